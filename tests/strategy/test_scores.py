"""Model score files as strategy columns (strategy/scores.py): joined by account, NULL where the
model did not score, the snapshot's own column kept, and broken files refused by name."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from huancui.contact.policy import load_pack
from huancui.kit.errors import InvalidInput
from huancui.kit.settings import Settings
from huancui.strategy.engines import DuckDBEngine
from huancui.strategy.loader import parse_strategy
from huancui.strategy.pipeline import build_query
from huancui.strategy.scores import score_files
from tests.strategy.conftest import default_text

AS_OF = date(2026, 11, 27)
PRIME = "condition: credit_grade IN ('A', 'B') AND days_past_due <= 30 AND cycles_delinquent <= 2"


def delinquent(snapshot: Path) -> list[str]:
    table = pq.read_table(snapshot / "accounts.parquet")
    return [
        a
        for a, d in zip(
            table.column("account_id").to_pylist(),
            table.column("days_past_due").to_pylist(),
            strict=True,
        )
        if d >= 1
    ]


def write_scores(folder: Path, target: str, scores: dict[str, float], version: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ids = sorted(scores)
    pq.write_table(
        pa.table(
            {
                "account_id": ids,
                f"score_{target}": [scores[a] for a in ids],
                f"scorecard_{target}": [scores[a] for a in ids],
                "reasons": ["test"] * len(ids),
                "model_version": pa.array([version] * len(ids), pa.int32()),
            }
        ),
        folder / f"{target}.parquet",
    )


def plan_with(snapshot: Path, scores: Path | None, tmp_path: Path) -> tuple[pa.Table, tuple]:
    text = default_text().replace(PRIME, "condition: coalesce(score_pay_30d, 0) >= 0.5")
    loaded = parse_strategy(text, source="scored.yaml")
    assert loaded.strategy is not None, loaded.errors
    query = build_query(
        strategy=loaded.strategy, pack=load_pack("cn").pack, snapshot=snapshot, as_of=AS_OF,
        scores=scores,
    )  # fmt: skip
    DuckDBEngine(Settings(home=tmp_path)).write_plan(query, tmp_path / "plan.parquet")
    return pq.read_table(tmp_path / "plan.parquet"), query.scores


def segments(plan: pa.Table) -> dict[str, str | None]:
    return dict(
        zip(plan.column("account_id").to_pylist(), plan.column("segment").to_pylist(), strict=True)
    )


def test_scores_decide_the_segment_and_missing_scores_are_null(
    generated_snapshot: Path, tmp_path: Path
) -> None:
    accounts = delinquent(generated_snapshot)
    assert len(accounts) >= 60
    high = set(accounts[::3])
    scored = {a: (0.9 if a in high else 0.1) for a in accounts[: len(accounts) - 2]}
    write_scores(tmp_path / "scores", "pay_30d", scored)
    plan, files = plan_with(generated_snapshot, tmp_path / "scores", tmp_path)
    assert [(f.column, f.target, f.model_version) for f in files] == [
        ("score_pay_30d", "pay_30d", 3)
    ]
    got = segments(plan)
    prime = {a for a, s in got.items() if s == "prime"}
    assert prime and prime == {a for a in got if a in high and a in scored}
    # No score file at all: every account falls through to the other segments.
    plain, none = plan_with(generated_snapshot, None, tmp_path)
    assert none == () and "prime" not in set(segments(plain).values())


def test_the_snapshots_own_score_column_wins(generated_snapshot: Path, tmp_path: Path) -> None:
    folder = tmp_path / "own"
    folder.mkdir()
    table = pq.read_table(generated_snapshot / "accounts.parquet")
    own = table.append_column("score_pay_30d", pa.array([0.99] * table.num_rows))
    pq.write_table(own, folder / "accounts.parquet")
    for name in ("customers", "contacts", "holds"):
        source = generated_snapshot / f"{name}.parquet"
        if source.exists():
            (folder / f"{name}.parquet").write_bytes(source.read_bytes())
    write_scores(tmp_path / "scores", "pay_30d", {a: 0.0 for a in delinquent(generated_snapshot)})
    plan, files = plan_with(folder, tmp_path / "scores", tmp_path)
    assert files == ()
    assert set(segments(plan).values()) == {"prime"}


def test_broken_score_files_are_refused_by_name(tmp_path: Path) -> None:
    write_scores(tmp_path, "roll", {"A1": 0.2, "A2": 0.3})
    table = pq.read_table(tmp_path / "roll.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), tmp_path / "roll.parquet")
    with pytest.raises(InvalidInput, match=r"roll\.parquet: 1 account\(s\) appear more than once"):
        score_files(tmp_path)
    pq.write_table(table.drop(["model_version"]), tmp_path / "roll.parquet")
    with pytest.raises(InvalidInput, match=r"roll\.parquet: missing column\(s\) model_version"):
        score_files(tmp_path)
    (tmp_path / "roll.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidInput, match=r"roll\.parquet: unreadable"):
        score_files(tmp_path)
    assert score_files(tmp_path / "nowhere") == ()
