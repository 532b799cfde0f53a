"""`huancui user set-password` and the 0005 migration on a database made at 0004."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from huancui.access.tables import AuditEventRow, UserRow
from huancui.access.throttle import ClientThrottle, authenticate
from huancui.cli import app
from huancui.kit.database import alembic_config, make_engine, migrate
from huancui.kit.settings import Settings
from tests.conftest import Cli


def typed(cli: Cli, *args: str, input: str) -> Result:
    """The CLI with `input` on standard input (the shared Cli fixture takes none)."""
    return CliRunner().invoke(app, list(args), env=cli.env, input=input, catch_exceptions=False)


def test_set_password_from_stdin_then_sign_in(cli: Cli, settings: Settings) -> None:
    assert cli("user", "add", "zhou", "--role", "collector", "--actor", "admin").exit_code == 0
    short = typed(cli, "user", "set-password", "zhou", "--stdin", input="short\n")
    assert short.exit_code == 2 and "use at least 12" in short.output
    passphrase = "correct horse battery staple\n"
    result = typed(
        cli, "user", "set-password", "zhou", "--stdin", "--actor", "admin", input=passphrase
    )
    assert result.exit_code == 0, result.output
    assert "password set for zhou" in result.output
    unknown = typed(
        cli, "user", "set-password", "nobody", "--stdin", input="correct horse battery staple\n"
    )
    assert unknown.exit_code == 3
    with Session(make_engine(settings.resolved_database_url)) as session:
        signed_in = authenticate(
            session,
            settings,
            "zhou",
            "correct horse battery staple",
            client="cli-test",
            now=datetime.now(UTC),
            clients=ClientThrottle(),
        )
        assert signed_in.value().username == "zhou"
        reasons = session.scalars(
            select(AuditEventRow.after).where(AuditEventRow.action == "user.set_password")
        ).all()
        assert reasons and "correct horse" not in str(reasons)


def test_set_password_prompts_twice(cli: Cli) -> None:
    cli("user", "add", "zhou", "--role", "collector", "--actor", "admin")
    # A mistyped confirmation is asked again; nothing is echoed.
    answers = "a long passphrase!\nanother one else\n" + "a long passphrase!\n" * 2
    mismatch = typed(cli, "user", "set-password", "zhou", input=answers)
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output and "password set for zhou" in mismatch.output
    assert "a long passphrase!" not in mismatch.output  # not echoed


def test_migration_upgrades_a_database_made_at_0004(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        connection.execute(
            text(
                "INSERT INTO users (username, display_name, role, active, created_at, created_by)"
                " VALUES ('zhou', '周', 'collector', true, :now, 'admin')"
            ),
            {"now": datetime(2026, 11, 1, tzinfo=UTC)},
        )
    migrate(database_url)
    engine = create_engine(database_url)
    with Session(engine) as session:
        user = session.scalars(select(UserRow)).one()
        assert (user.password_hash, user.failed_logins, user.locked_until) == (None, 0, None)
    engine.dispose()
