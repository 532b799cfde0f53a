"""`huancui keys …`: the keys that encrypt the customers' personal fields (docs/security.md).

huancui keys new       print a fresh key (put it first in HUANCUI_PII_KEYS)
huancui keys rotate    re-encrypt every stored personal field with the newest key
huancui keys check     every customer opens with the configured keys (exit 1 if not)
"""

from __future__ import annotations

import getpass
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from huancui.cli_support import JsonFlag, emit_json, err, fail, out
from huancui.kit.errors import HuancuiError

if TYPE_CHECKING:
    from huancui.access.crypto import FieldCipher
    from huancui.access.pii import KeyBatch
    from huancui.kit.settings import Settings

keys_app = typer.Typer(
    help="Keys for the customers' personal data at rest: new, rotate, check.",
    no_args_is_help=True,
)
BatchSize = Annotated[int, typer.Option("--batch-size", min=1, help="Customers per transaction.")]
_SHOWN_IDS = 5


def _cipher(settings: Settings) -> FieldCipher:
    from huancui.access.crypto import FieldCipher

    try:
        return FieldCipher.from_settings(settings)
    except HuancuiError as exc:
        raise fail(exc) from None


def _key_source(settings: Settings, cipher: FieldCipher) -> str:
    if settings.pii_keys is None:
        return f"the demo key in {settings.pii_dev_key_file}"
    return f"HUANCUI_PII_KEYS ({len(cipher.keys)} key{'s' if len(cipher.keys) > 1 else ''})"


def _add(total: dict[str, int], batch: KeyBatch) -> None:
    for name, value in batch.counts().items():
        total[name] = total.get(name, 0) + value


@keys_app.command("new")
def new() -> None:
    """Print a fresh random key: put it FIRST in HUANCUI_PII_KEYS, then `huancui keys rotate`."""
    from huancui.access.crypto import new_key

    typer.echo(new_key())


@keys_app.command("rotate")
def rotate(
    batch_size: BatchSize = 1000,
    actor: Annotated[str | None, typer.Option(help="Who rotates (default: OS user).")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Re-encrypt every customer's personal fields with the newest key and rewrite the lookup
    hashes; clear values left by a database from before encryption are encrypted. One
    transaction per batch: safe to stop and run again (done rows are skipped)."""
    from huancui.access.audit import record
    from huancui.access.pii import rotate_batch
    from huancui.kit.database import migrate, unit_of_work
    from huancui.kit.settings import get_settings

    settings = get_settings()
    cipher = _cipher(settings)
    url = settings.resolved_database_url
    migrate(url)
    rotation = uuid.uuid4().hex[:12]
    who = actor or getpass.getuser()
    total: dict[str, int] = {}
    unreadable: list[str] = []
    after: str | None = None
    while True:
        with unit_of_work(url) as session:
            batch = rotate_batch(session, cipher, after=after, limit=batch_size)
            if batch.rows_rewritten:
                # Each committed batch is its own event: a rotation stopped half-way is on record.
                record(
                    session,
                    actor=who,
                    action="pii.keys_rotated",
                    entity_type="customers",
                    entity_id=f"rotation:{rotation}",
                    after={
                        "after_customer_id": after,
                        "to_customer_id": batch.last_customer_id,
                        "keys": len(cipher.keys),
                        **batch.counts(),
                    },
                    reason="re-encrypt personal fields with the newest key in HUANCUI_PII_KEYS",
                )
        _add(total, batch)
        unreadable.extend(batch.unreadable_customer_ids)
        if batch.rows < batch_size:
            break
        after = batch.last_customer_id
    with unit_of_work(url) as session:
        record(
            session,
            actor=who,
            action="pii.rotation_finished",
            entity_type="customers",
            entity_id=f"rotation:{rotation}",
            after={"keys": len(cipher.keys), **total},
            reason="every customer passed once; rows_unreadable must be 0 before an old key goes",
        )
    if json_out:
        emit_json({"rotation": rotation, **total, "unreadable_customer_ids": unreadable})
    else:
        out.print(
            f"rotated with {_key_source(settings, cipher)}: {total.get('rows', 0):,} customers,"
            f" {total.get('rows_rewritten', 0):,} rewritten"
            f" ({total.get('values_reencrypted', 0):,} values re-encrypted,"
            f" {total.get('values_encrypted_from_clear', 0):,} encrypted from clear text,"
            f" {total.get('hashes_rewritten', 0):,} lookup hashes rewritten)",
            highlight=False,
        )
    if unreadable:
        _report_unreadable(unreadable, total.get("rows", 0))
        raise typer.Exit(1)


@keys_app.command("check")
def check(batch_size: BatchSize = 5000, json_out: JsonFlag = False) -> None:
    """Check that every customer's personal fields open with the configured keys; exit 1 if a
    row does not, or is still in clear text. Rows under an older key are reported (rotate
    before removing that key) but pass."""
    from huancui.access.pii import check_batch
    from huancui.kit.database import migrate, unit_of_work
    from huancui.kit.settings import get_settings

    settings = get_settings()
    cipher = _cipher(settings)
    url = settings.resolved_database_url
    migrate(url)
    total: dict[str, int] = {}
    unreadable: list[str] = []
    after: str | None = None
    while True:
        with unit_of_work(url) as session:
            batch = check_batch(session, cipher, after=after, limit=batch_size)
        _add(total, batch)
        unreadable.extend(batch.unreadable_customer_ids)
        if batch.rows < batch_size:
            break
        after = batch.last_customer_id
    rows, in_clear = total.get("rows", 0), total.get("rows_in_clear", 0)
    old = total.get("rows_under_old_key", 0)
    if json_out:
        result: dict[str, Any] = {
            "ok": not unreadable and not in_clear,
            "keys": len(cipher.keys),
            "customers": rows,
            "rows_unreadable": len(unreadable),
            "rows_in_clear": in_clear,
            "rows_under_old_key": old,
            "unreadable_customer_ids": unreadable[:_SHOWN_IDS],
        }
        emit_json(result)
    elif not unreadable:
        out.print(f"{rows:,} customers open with {_key_source(settings, cipher)}", highlight=False)
    if not json_out and old:
        out.print(
            f"{old:,} customers are still under an older key: run `huancui keys rotate` before"
            " removing it from HUANCUI_PII_KEYS",
            highlight=False,
        )
    if not json_out and in_clear:
        err.print(
            f"{in_clear:,} customers still hold personal fields in clear text (a database from"
            " before encryption): run `huancui keys rotate`",
            markup=False,
        )
    if unreadable and not json_out:
        _report_unreadable(unreadable, rows)
    if unreadable or in_clear:
        raise typer.Exit(1)


def _report_unreadable(unreadable: list[str], rows: int) -> None:
    shown = ", ".join(unreadable[:_SHOWN_IDS]) + (" …" if len(unreadable) > _SHOWN_IDS else "")
    err.print(
        f"{len(unreadable):,} of {rows:,} customers cannot be opened with the keys in"
        f" HUANCUI_PII_KEYS (customer ids {shown}): a key was removed before rotation finished,"
        " or the values were damaged; put the old key back (last in the list) and run"
        " `huancui keys rotate`",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Adds the key commands to `app`."""
    app.add_typer(keys_app, name="keys")
