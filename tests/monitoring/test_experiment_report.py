"""`huancui experiment report` end to end on a generated portfolio, with later snapshots whose truth
is planted: the challenger arm's accounts pay (or complain) at a known, different rate."""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import yaml
from sqlalchemy import create_engine, text

from huancui.kit.money import format_yuan
from huancui.kit.settings import Settings
from tests.conftest import Cli
from tests.strategy.conftest import default_text

D = date(2026, 11, 27)
EXPERIMENT = "every_cell_tone"
ARM = "gentle"
# The default programme with its prime × early challenger replaced by one over every cell with
# half of the accounts in the challenger arm, so that a 3,000-account book gives enough sample.
_SPEC = yaml.safe_load(default_text())
_SPEC["challengers"] = [
    {"experiment": EXPERIMENT, "arm": ARM, "description": "Test experiment over every cell.",
     "traffic_share": 0.5, "treatment": {"tone": "gentle"}},
]  # fmt: skip
STRATEGY = yaml.safe_dump(_SPEC, allow_unicode=True, sort_keys=False)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
HEADERS = {
    "payments": ["payment_id", "account_id", "paid_date", "amount", "channel"],
    "contacts": ["contact_id", "account_id", "contacted_at", "channel", "connected",
                 "right_party", "outcome", "agent_id"],
    "feedback": ["feedback_id", "account_id", "received_date", "kind", "score", "channel",
                 "category", "contact_id"],
}  # fmt: skip


@dataclass(frozen=True)
class Book:
    """The imported portfolio of D, after the nightly run assigned the experiment's arms."""

    cli: Cli
    settings: Settings
    delivery: Path
    arms: dict[str, str]  # account → arm
    balance_fen: dict[str, int]  # account → balance on D


def build_book(root: Path) -> Book:
    settings = Settings(home=root / "home", database_url=f"sqlite:///{root / 'case.db'}")
    cli = Cli(settings)
    delivery = root / "delivery"
    generated = cli("generate", "--accounts", "3000", "--months", "6", "--seed", "11",
                    "--as-of", D.isoformat(), "--out", str(delivery), "--json")  # fmt: skip
    assert generated.exit_code == 0, generated.output
    assert cli("import", str(delivery), "--as-of", D.isoformat()).exit_code == 0
    strategy = root / "strategy.yaml"
    strategy.write_text(STRATEGY, encoding="utf-8")
    activated = cli("strategy", "activate", str(strategy))
    assert activated.exit_code == 0, activated.output
    ran = cli("run", "--as-of", D.isoformat(), "--json")
    assert ran.exit_code == 0, ran.output
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        arms = dict(
            conn.execute(
                text("SELECT account_id, arm FROM experiment_assignments WHERE experiment = :e"),
                {"e": EXPERIMENT},
            ).all()
        )
    engine.dispose()
    accounts = settings.snapshots_dir / D.isoformat() / "accounts.parquet"
    balance = dict(
        duckdb.sql(f"SELECT account_id, balance_fen FROM read_parquet('{accounts}')").fetchall()
    )
    return Book(cli, settings, delivery, arms, balance)


def later_snapshot(
    book: Book,
    day: date,
    *,
    pay: dict[str, float],
    complain: dict[str, float] | None = None,
    seed: int,
) -> None:
    """Import the delivery again as of `day`, with new payments (each paying account settles its
    balance of D) and complaints drawn per arm at the planted rates, and one SMS per account
    (the challenger's accounts also get an e-mail) for the contact costs."""
    folder = book.delivery.parent / f"delivery-{day.isoformat()}"
    shutil.copytree(book.delivery, folder)
    draw = random.Random(seed)
    payments, contacts, feedback = [], [], []
    for n, (account, arm) in enumerate(sorted(book.arms.items())):
        paid_on = D + timedelta(days=3 + n % 20)
        if draw.random() < pay[arm]:
            payments.append([f"PX{n:08d}", account, paid_on.isoformat(),
                             format_yuan(book.balance_fen[account]), "app"])  # fmt: skip
        for k, channel in enumerate(["sms", "email"] if arm == ARM else ["sms"]):
            contacts.append([f"KX{n:08d}{k}", account, f"{D + timedelta(days=2)}T10:00:00+08:00",
                             channel, "false", "false", "delivered", ""])  # fmt: skip
        if complain and draw.random() < complain[arm]:
            feedback.append([f"FX{n:08d}", account, paid_on.isoformat(), "complaint", "",
                             "call", "frequency", ""])  # fmt: skip
    for name, rows in (("payments", payments), ("contacts", contacts), ("feedback", feedback)):
        path = folder / f"{name}.csv"
        new_file = not path.exists()  # contacts and feedback are optional in a delivery
        with path.open("a", encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            if new_file:
                writer.writerow(HEADERS[name])
            writer.writerows(rows)
    imported = book.cli("import", str(folder), "--as-of", day.isoformat())
    assert imported.exit_code == 0, imported.output


def report(book: Book, *args: str) -> dict[str, Any]:
    result = book.cli("experiment", "report", EXPERIMENT, "--json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_planted_truth_is_found_and_no_truth_gives_no_winner(tmp_path: Path) -> None:
    """One generated book (building it is the slow part), four later snapshots of known truth."""
    book = build_book(tmp_path)
    counts = {arm: list(book.arms.values()).count(arm) for arm in ("champion", ARM)}
    assert min(counts.values()) >= 50, counts
    a_planted_payment_effect_is_found_and_promoted(book)
    before_the_horizon_the_same_effect_says_run_longer(book)
    no_planted_difference_gives_no_winner(book)
    more_recovery_with_more_complaints_is_vetoed(book)


def a_planted_payment_effect_is_found_and_promoted(book: Book) -> None:
    look = D + timedelta(days=30)
    later_snapshot(book, look, pay={"champion": 0.25, ARM: 0.75}, seed=1)
    data = report(book, "--as-of", look.isoformat(), "--horizon-days", "30")
    assert (data["horizon_reached"], data["look_date"]) == (True, look.isoformat())
    assert data["recommendation"]["action"] == "promote"
    assert data["recommendation"]["arm"] == ARM
    assert data["recommendation"]["text"].startswith(f"Promote {ARM}: cure rate")
    cure = next(c for c in data["comparisons"] if c["metric"] == "cure_rate")
    assert cure["difference"] > 0.3 and cure["ci_low"] > 0 and cure["p_adjusted"] < 0.05
    arms = {a["arm"]: a for a in data["arms"]}
    assert arms["champion"]["accounts"] + arms[ARM]["accounts"] == len(book.arms)
    # Contact costs from the shipped unit costs: an SMS (0.05), plus an e-mail (0.01) for the arm.
    assert (arms["champion"]["cost_per_account"], arms[ARM]["cost_per_account"]) == (
        "0.05",
        "0.06",
    )
    for arm in arms.values():
        for key in ("arrears_at_start", "collected", "recovered", "cost", "cost_per_account"):
            assert MONEY.match(arm[key]), (key, arm[key])
    assert 0 < arms["champion"]["recovery_rate"] < arms[ARM]["recovery_rate"] <= 1
    assert "fixed horizon" in data["peeking_rule"]
    # For people: the tables and the recommendation in words.
    printed = book.cli("experiment", "report", EXPERIMENT, "--as-of", look.isoformat(),
                       "--horizon-days", "30")  # fmt: skip
    assert printed.exit_code == 0, printed.output
    for piece in ("Arms 各组", f"{ARM} − champion", "Power 检验力", "Guardrails 护栏",
                  f"Promote {ARM}", "Peeking protection: fixed horizon"):  # fmt: skip
        assert piece in printed.stdout, piece


def before_the_horizon_the_same_effect_says_run_longer(book: Book) -> None:
    """The planted snapshot judged against a longer horizon: interim numbers, and "run
    longer" however clear the difference looks already."""
    look = D + timedelta(days=30)
    early = report(book, "--as-of", look.isoformat(), "--horizon-days", "45", "--lang", "zh-CN")
    assert early["horizon_reached"] is False
    assert early["verdicts"][0]["action"] == "promote"
    assert early["recommendation"]["action"] == "run_longer"
    assert early["recommendation"]["reason"] == "horizon_not_reached"
    assert str(D + timedelta(days=45)) in early["recommendation"]["text"]
    assert early["recommendation"]["text"].startswith("继续运行")


def no_planted_difference_gives_no_winner(book: Book) -> None:
    look = D + timedelta(days=31)
    later_snapshot(book, look, pay={"champion": 0.4, ARM: 0.4}, seed=2)
    args = ("--as-of", look.isoformat(), "--horizon-days", "31")
    data = report(book, *args)
    assert data["recommendation"]["action"] == "run_longer"  # +2 points needs far more accounts
    assert data["recommendation"]["reason"] == "underpowered"
    needed = data["power"][0]["needed"]
    assert needed["champion"] > data["power"][0]["accounts"]["champion"]
    # Asked only for a gain this sample can see, the answer is to keep the champion.
    coarse = report(book, *args, "--min-effect", "0.3")
    assert coarse["recommendation"]["action"] == "keep"
    assert coarse["recommendation"]["reason"] == "no_significant_gain"


def more_recovery_with_more_complaints_is_vetoed(book: Book) -> None:
    look = D + timedelta(days=32)
    later_snapshot(
        book, look, pay={"champion": 0.25, ARM: 0.75}, complain={"champion": 0.02, ARM: 0.4},
        seed=3,
    )  # fmt: skip
    data = report(book, "--as-of", look.isoformat(), "--horizon-days", "32",
                  "--primary", "recovery_rate")  # fmt: skip
    recovery = next(c for c in data["comparisons"] if c["metric"] == "recovery_rate")
    assert recovery["difference"] > 0 and recovery["p_adjusted"] < 0.05
    assert data["data"]["feedback_file"] is True
    complaints = next(g for g in data["guardrails"] if g["metric"] == "complaint_rate")
    assert complaints["breached"] is True and complaints["alternative"] == "larger"
    assert data["recommendation"]["action"] == "keep"
    assert data["recommendation"]["reason"] == "vetoed"
    assert data["recommendation"]["breaches"] == ["complaint_rate"]


def test_an_experiment_without_assignments_says_how_accounts_get_assigned(cli: Cli) -> None:
    result = cli("experiment", "report", "no_such_thing")
    assert result.exit_code == 3
    assert "'no_such_thing' has no assigned accounts" in result.output
    assert "huancui run" in result.output
