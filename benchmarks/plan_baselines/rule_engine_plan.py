"""Baseline (a) of the nightly-plan benchmark: the plan computed row by row in Python.

What a team would write without the compiler: read the snapshot's Parquet files with pyarrow,
evaluate the strategy for every account with `rule_engine.Rule` objects (the `rule-engine`
package) and apply the compliance pack per action row in plain Python, then write the same plan
columns (huancui.contact.guard.PLAN_COLUMNS) to Parquet. It must give the very same plan as the
generated SQL; benchmarks/bench_plan.py checks that row for row.

- Strategy: eligibility (first stage's `min_dpd`, not charged off), then the segment conditions
  in order (first match wins), the stage ranges and the priority expression, each a
  `rule_engine.Rule` translated from the strategy's SQL (see `rule_text`); the challenger arm by
  `huancui.strategy.assignment.assign_arm`; the treatment per segment × stage × arm with the
  challenger's override applied. rule-engine raises on a comparison with NULL where SQL yields
  NULL; such a condition counts as false, as a NULL condition does in SQL's CASE WHEN (exact for
  the default strategy, whose rules read no nullable column).
- Compliance, per action row and in the guard's order: vulnerable customers (a vulnerable hold
  on any of their accounts) → all their actions suppressed, one specialist call per customer on
  the account with the highest priority that no hold of its own stops the call on (any, if all
  are held); person-level holds (deceased, bankruptcy, do-not-contact) on any of the customer's
  accounts; hard holds, channel opt-out, consent on the action's contact day; holiday deferral per
  channel; the lawful window per time zone × channel (memoised: a run has a few zones); the
  strategy's cadence and the pack's frequency caps and cool-downs from the contact history in
  the customer's local days (only the guard's look-back range of days is read, as the SQL does).

Only the columns the rules need are read, and accounts stream in batches, so the baseline is not
handicapped by loading what it does not use. Priority is rule-engine arithmetic (Decimal) turned
into a float, so it can differ from DuckDB's double in the last bit.

Usage:
    .venv/bin/python benchmarks/plan_baselines/rule_engine_plan.py SNAPSHOT OUT.parquet \
        --as-of 2026-11-27 [--strategy strategies/default.yaml] [--pack cn] [--customer-mod K]

--customer-mod K keeps only the customers whose stable hash is 0 modulo K (and their accounts):
a subset on which the plan is exactly the full plan's rows of those customers, since every
per-debtor rule sees all of a customer's accounts. Prints one JSON line of counts and timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time as clock
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import rule_engine
import sqlglot
from sqlglot import exp

from huancui.contact.policy import (
    CADENCE_RULE,
    CONSENT_RULE,
    HARD_HOLDS,
    HOLIDAY_DEFERRED_RULE,
    HOURS_CLOSED_RULE,
    HOURS_NARROWED_RULE,
    OPT_OUT_RULE,
    PERSON_HOLDS,
    VULNERABLE_RULE,
    CompliancePack,
    load_pack,
)
from huancui.kit.calendar import END_OF_DAY, day_window, iso_local, next_open_day
from huancui.strategy.assignment import assign_arm
from huancui.strategy.loader import load_strategy
from huancui.strategy.spec import Strategy

ROOT = Path(__file__).resolve().parents[2]
NO_SEGMENT_RULE = "strategy.no_segment"
CHANNELS = ("sms", "email", "call", "visit", "letter", "legal")
BATCH_ROWS = 65_536

# ---------------------------------------------------------------------------------------------
# The strategy's SQL expressions as rule-engine text.

_COMPARE = {exp.EQ: "==", exp.NEQ: "!=", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITH = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.IntDiv: "//", exp.Mod: "%"}


def rule_text(sql: str) -> str:
    """A strategy rule (DuckDB SQL over the rule columns) in rule-engine's syntax."""
    return _rule(sqlglot.parse_one(sql, read="duckdb"))


def _rule(node: exp.Expression) -> str:
    kind = type(node)
    if kind in _COMPARE:
        return f"({_rule(node.this)} {_COMPARE[kind]} {_rule(node.expression)})"
    if kind in _ARITH:
        return f"({_rule(node.this)} {_ARITH[kind]} {_rule(node.expression)})"
    if isinstance(node, exp.And):
        return f"({_rule(node.this)} and {_rule(node.expression)})"
    if isinstance(node, exp.Or):
        return f"({_rule(node.this)} or {_rule(node.expression)})"
    if isinstance(node, exp.Not):
        return f"(not {_rule(node.this)})"
    if isinstance(node, exp.Paren):
        return f"({_rule(node.this)})"
    if isinstance(node, exp.Neg):
        return f"(-{_rule(node.this)})"
    if isinstance(node, exp.In):
        items = ", ".join(_rule(e) for e in node.expressions)
        return f"({_rule(node.this)} in [{items}])"
    if isinstance(node, exp.Between):
        x = _rule(node.this)
        return f"({x} >= {_rule(node.args['low'])} and {x} <= {_rule(node.args['high'])})"
    if isinstance(node, exp.Is):
        return f"({_rule(node.this)} == {_rule(node.expression)})"
    if isinstance(node, exp.Coalesce):
        parts = [node.this, *node.expressions]
        text = _rule(parts[-1])
        for part in reversed(parts[:-1]):
            value = _rule(part)
            text = f"({value} != null ? {value} : {text})"
        return text
    if isinstance(node, exp.Case):
        text = _rule(node.args["default"]) if node.args.get("default") else "null"
        for branch in reversed(node.args["ifs"]):
            text = f"({_rule(branch.this)} ? {_rule(branch.args['true'])} : {text})"
        return text
    if isinstance(node, exp.Column):
        return node.name
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    if isinstance(node, exp.Null):
        return "null"
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "'" + node.this.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return str(node.this)
    raise NotImplementedError(f"no rule-engine translation for {kind.__name__}: {node.sql()}")


def _columns(sql: str) -> set[str]:
    return {c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}


@dataclass(frozen=True)
class Cell:
    """The effective treatment of one segment × stage × arm."""

    channels: tuple[str, ...]
    template: str
    tone: str
    cadence_days: int
    queue: str


class StrategyRules:
    """The strategy as rule-engine rules and lookup tables."""

    def __init__(self, strategy: Strategy) -> None:
        context = rule_engine.Context()
        first = strategy.stages[0].min_dpd
        self.eligible = rule_engine.Rule(
            f"days_past_due >= {first} and charged_off != true and status != 'charged_off'",
            context=context,
        )
        self.segments = [
            (i, s.id, rule_engine.Rule(rule_text(s.condition_sql), context=context))
            for i, s in enumerate(strategy.segments)
        ]
        self.stages = []
        for s in strategy.stages:
            text = f"days_past_due >= {s.min_dpd}"
            if s.max_dpd is not None:
                text += f" and days_past_due <= {s.max_dpd}"
            self.stages.append((s.id, rule_engine.Rule(text, context=context)))
        self.priority = rule_engine.Rule(rule_text(strategy.priority_sql), context=context)
        self.columns = {"account_id", "customer_id", "days_past_due", "charged_off", "status"}
        for s in strategy.segments:
            self.columns |= _columns(s.condition_sql)
        self.columns |= _columns(strategy.priority_sql)
        self.experiments = {
            (g.id, s.id): strategy.arms(g.id, s.id)
            for g in strategy.segments
            for s in strategy.stages
        }
        self.cells: dict[tuple[str, str, str], Cell] = {}
        for t in strategy.treatments:
            base = Cell(t.channels, t.template, t.tone, t.cadence_days, t.queue)
            experiment, arms = self.experiments[(t.segment, t.stage)]
            self.cells[(t.segment, t.stage, "champion" if experiment else "")] = base
            for arm in arms:
                change = next(
                    c.treatment
                    for c in strategy.challengers
                    if c.experiment == experiment and c.arm == arm.name
                )
                self.cells[(t.segment, t.stage, arm.name)] = Cell(
                    change.channels or base.channels,
                    change.template or base.template,
                    change.tone or base.tone,
                    change.cadence_days or base.cadence_days,
                    change.queue or base.queue,
                )

    def matches(self, rule: rule_engine.Rule, row: dict[str, Any]) -> bool:
        try:
            return bool(rule.matches(row))
        except rule_engine.EvaluationError:
            return False  # a comparison with NULL: SQL's CASE WHEN treats it as false


# ---------------------------------------------------------------------------------------------
# Compliance facts per channel and per time zone.


def lookback(strategy: Strategy, pack: CompliancePack) -> int:
    spans = [t.cadence_days for t in strategy.treatments]
    spans += [c.treatment.cadence_days or 0 for c in strategy.challengers]
    spans += [c.days for c in pack.frequency_caps] + [c.days for c in pack.cooldowns]
    return max([*spans, pack.vulnerable.cadence_days])


def contact_dates(pack: CompliancePack, planned: date) -> dict[str, date]:
    moved = {}
    for channel in CHANNELS:
        rule = pack.holidays
        if rule is not None and channel in rule.channels:
            moved[channel] = next_open_day(planned, rule.calendar, max_days=rule.max_defer_days)
        else:
            moved[channel] = planned
    return moved


class Windows:
    """The lawful window of a channel on a local day in a zone: bank hours ∩ the pack's hours."""

    def __init__(self, strategy: Strategy, pack: CompliancePack) -> None:
        self.strategy = strategy
        self.pack = pack
        self.get = cache(self._window)

    def _window(
        self, tz: str, channel: str, day: date
    ) -> tuple[str | None, str | None, str | None]:
        whole_day = day_window(day, time(0), END_OF_DAY, tz)
        lawful = whole_day
        if channel in self.pack.timed_channels:
            hours = self.pack.contact_hours
            lawful = day_window(day, hours.start_time, hours.end_time, tz)
        wanted = whole_day
        bank = self.strategy.operating_hours
        bank_hours = bank.for_channel(channel)
        if bank_hours is not None:
            wanted = day_window(day, bank_hours.start_time, bank_hours.end_time, bank.timezone)
        window = wanted.intersect(lawful).in_zone(tz)
        if window.empty:
            return None, None, HOURS_CLOSED_RULE
        effect = None if lawful.contains(wanted) else HOURS_NARROWED_RULE
        return iso_local(window.start), iso_local(window.end), effect


# ---------------------------------------------------------------------------------------------
# Reading the snapshot.


def _rows(path: Path, columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns):
        yield from batch.to_pylist()


def _keep(customer_id: str, mod: int) -> bool:
    if mod <= 1:
        return True
    return int(hashlib.sha256(customer_id.encode()).hexdigest()[:8], 16) % mod == 0


@dataclass
class Customer:
    timezone: str | None
    consent: dict[str, bool]


def plan(
    snapshot: Path,
    target: Path,
    *,
    strategy: Strategy,
    pack: CompliancePack,
    as_of: date,
    customer_mod: int = 1,
) -> dict[str, Any]:
    started = clock.perf_counter()
    seconds: dict[str, float] = {}
    rules = StrategyRules(strategy)
    planned = as_of + timedelta(days=1)
    moved = contact_dates(pack, planned)
    windows = Windows(strategy, pack)
    default_tz = pack.default_timezone

    # Customers, holds.
    customers: dict[str, Customer] = {}
    consent_columns = [f"consent_{c}" for c in ("sms", "email", "call")]
    for row in _rows(snapshot / "customers.parquet", ["customer_id", "timezone", *consent_columns]):
        if _keep(row["customer_id"], customer_mod):
            customers[row["customer_id"]] = Customer(
                row["timezone"], {c: bool(row[f"consent_{c}"]) for c in ("sms", "email", "call")}
            )
    holds: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _rows(snapshot / "holds.parquet"):
        holds[row["account_id"]].append(row)
    seconds["read customers, holds"] = clock.perf_counter() - started

    # Strategy, account by account.
    mark = clock.perf_counter()
    owner: dict[str, str] = {}  # account → customer, for the contact history
    actions: list[dict[str, Any]] = []
    accounts = 0
    for row in _rows(snapshot / "accounts.parquet", sorted(rules.columns)):
        if not _keep(row["customer_id"], customer_mod):
            continue
        accounts += 1
        owner[row["account_id"]] = row["customer_id"]
        if not rules.eligible.matches(row):
            continue
        actions.extend(_strategy_rows(rules, row))
    seconds["strategy (rule-engine)"] = clock.perf_counter() - mark

    # Contact history in local days, over the guard's look-back range.
    mark = clock.perf_counter()
    first = planned - timedelta(days=lookback(strategy, pack) + 1)
    last = max(moved.values())
    zones: dict[str, ZoneInfo] = {}
    last_touch: dict[tuple[str, str], date] = {}
    history: list[tuple[str, str, str, bool, bool, date]] = []
    contact_columns = ["account_id", "contacted_at", "channel", "connected", "right_party"]
    for row in _rows(snapshot / "contacts.parquet", contact_columns):
        customer_id = owner.get(row["account_id"])
        if customer_id is None:
            continue
        customer = customers.get(customer_id)
        tz = (customer.timezone if customer else None) or default_tz
        zone = zones.get(tz) or zones.setdefault(tz, ZoneInfo(tz))
        local_date = row["contacted_at"].astimezone(zone).date()
        if not first <= local_date <= last:
            continue
        connected = bool(row["connected"])
        conversation = connected and bool(row["right_party"])
        key = (row["account_id"], row["channel"])
        if key not in last_touch or last_touch[key] < local_date:
            last_touch[key] = local_date
        history.append(
            (row["account_id"], customer_id, row["channel"], connected, conversation, local_date)
        )
    seconds["contact history"] = clock.perf_counter() - mark

    # Compliance, row by row.
    mark = clock.perf_counter()
    # Vulnerability is the person's: a vulnerable hold on any account of the customer.
    vulnerable = {
        owner[account]
        for account, items in holds.items()
        if account in owner
        and any(_active(h, planned) for h in items if h["hold_type"] == "vulnerable")
    }
    rows: list[dict[str, Any]] = []
    first_actions: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for action in actions:
        rows.append(action)
        action["vulnerable"] = action["customer_id"] in vulnerable
        action["specialist"] = False
        if action["vulnerable"] and action["channel_no"] == 1:
            first_actions[action["customer_id"]].append(action)
    # One specialist call per vulnerable customer, on the account with the highest priority
    # among those with no hold of their own against the call on its day (any, if all have).
    v = pack.vulnerable
    for candidates in first_actions.values():
        chosen = min(
            candidates,
            key=lambda r: (
                _blocked(holds.get(r["account_id"], ()), v.channel, moved[v.channel]),
                *_by_priority(r["priority"], r["account_id"]),
            ),
        )
        rows.append(_specialist(chosen, pack))
    # Deceased, bankruptcy and do-not-contact are the person's: a hold on any of the customer's
    # accounts stops all of them.
    person_holds: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for account, items in holds.items():
        if account in owner:
            person_holds[owner[account]] += [h for h in items if h["hold_type"] in PERSON_HOLDS]
    for row in rows:
        _screen(row, customers, holds, person_holds, last_touch, moved, planned, windows, pack)
    _limits(rows, history, moved, pack)
    seconds["compliance"] = clock.perf_counter() - mark

    mark = clock.perf_counter()
    rows.sort(
        key=lambda r: (r["account_id"], r["channel_no"] if r["channel_no"] is not None else -1)
    )
    pq.write_table(
        pa.Table.from_pylist([_output(r) for r in rows], schema=PLAN_SCHEMA),
        target,
        compression="zstd",
    )
    seconds["write"] = clock.perf_counter() - mark
    return {
        "accounts": accounts,
        "eligible": len({a["account_id"] for a in actions}),
        "rows": len(rows),
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "in_process": round(clock.perf_counter() - started, 2),
    }


def _strategy_rows(rules: StrategyRules, row: dict[str, Any]) -> list[dict[str, Any]]:
    segment_index, segment = None, None
    for index, name, rule in rules.segments:
        if rules.matches(rule, row):
            segment_index, segment = index, name
            break
    stage = next((name for name, rule in rules.stages if rules.matches(rule, row)), None)
    value = rules.priority.evaluate(row)
    priority = float(value) if value is not None else None
    base = {
        "account_id": row["account_id"],
        "customer_id": row["customer_id"],
        "segment": segment,
        "segment_rule_index": segment_index,
        "stage": stage,
        "experiment": None,
        "arm": None,
        "priority": priority,
    }
    if segment is None or stage is None:
        return [{**base, "channel_no": None, "channel": None, "template": None, "tone": None,
                 "cadence_days": None, "queue": None}]  # fmt: skip
    experiment, arms = rules.experiments[(segment, stage)]
    if experiment is not None:
        arm = assign_arm(experiment=experiment, account_id=row["account_id"], arms=arms)
        base["experiment"], base["arm"] = experiment, arm or "champion"
    cell = rules.cells[(segment, stage, base["arm"] or "")]
    return [
        {**base, "channel_no": number, "channel": channel, "template": cell.template,
         "tone": cell.tone, "cadence_days": cell.cadence_days, "queue": cell.queue}
        for number, channel in enumerate(cell.channels, start=1)
    ]  # fmt: skip


def _by_priority(priority: float | None, *rest: Any) -> tuple[Any, ...]:
    """Sort key: highest priority first, NULL last, then `rest` ascending."""
    return (priority is None, -(priority or 0.0), *rest)


def _specialist(action: dict[str, Any], pack: CompliancePack) -> dict[str, Any]:
    v = pack.vulnerable
    return {**action, "channel_no": 0, "channel": v.channel, "template": v.template,
            "tone": v.tone, "cadence_days": v.cadence_days, "queue": v.queue,
            "vulnerable": True, "specialist": True}  # fmt: skip


def _active(hold: dict[str, Any], day: date) -> bool:
    return bool(hold["start_date"] <= day and (hold["end_date"] is None or hold["end_date"] >= day))


HARD_KINDS = frozenset(kind for kind, _ in HARD_HOLDS)


def _blocked(items: Any, channel: str, day: date) -> bool:
    """Does one of these holds (of one account) stop `channel` on `day`?"""
    return any(
        _active(h, day)
        and (
            h["hold_type"] in HARD_KINDS
            or (h["hold_type"] == "channel_opt_out" and h["channel"] == channel)
        )
        for h in items
    )


def _screen(
    row: dict[str, Any],
    customers: dict[str, Customer],
    holds: dict[str, list[dict[str, Any]]],
    person_holds: dict[str, list[dict[str, Any]]],
    last_touch: dict[tuple[str, str], date],
    moved: dict[str, date],
    planned: date,
    windows: Windows,
    pack: CompliancePack,
) -> None:
    """Every rule before the caps: the first that stops the row (`pre_rule`) and the trace."""
    channel = row["channel"]
    customer = customers.get(row["customer_id"])
    tz = (customer.timezone if customer else None) or pack.default_timezone
    row["timezone"] = tz
    trace: list[str] = [VULNERABLE_RULE] if row["vulnerable"] else []
    if channel is None:
        row.update(planned_date=planned, contact_date=planned, window_start=None, window_end=None)
        row["pre_rule"], row["trace"] = NO_SEGMENT_RULE, trace
        return
    day = moved[channel]
    row["planned_date"], row["contact_date"] = planned, day
    active = [h for h in holds.get(row["account_id"], ()) if _active(h, day)]
    kinds = {h["hold_type"] for h in active}
    kinds |= {h["hold_type"] for h in person_holds.get(row["customer_id"], ()) if _active(h, day)}
    hard = [rule for kind, rule in HARD_HOLDS if kind in kinds]
    opted_out = any(h["hold_type"] == "channel_opt_out" and h["channel"] == channel for h in active)
    if channel in pack.consent_channels and channel in ("sms", "email", "call"):
        consented = customer.consent[channel] if customer else False
    else:
        consented = True
    start, end, effect = windows.get(tz, channel, day)
    row["window_start"], row["window_end"] = start, end
    last = last_touch.get((row["account_id"], channel))
    too_soon = last is not None and last > day - timedelta(days=row["cadence_days"])
    pre_rule = None
    if row["vulnerable"] and not row["specialist"]:
        pre_rule = VULNERABLE_RULE
    elif hard:
        pre_rule = hard[0]
    elif opted_out:
        pre_rule = OPT_OUT_RULE
    elif not consented:
        pre_rule = CONSENT_RULE
    elif effect == HOURS_CLOSED_RULE:
        pre_rule = HOURS_CLOSED_RULE
    elif too_soon:
        pre_rule = CADENCE_RULE
    trace += hard
    trace += [OPT_OUT_RULE] if opted_out else []
    trace += [CONSENT_RULE] if not consented else []
    trace += [HOLIDAY_DEFERRED_RULE] if day > planned else []
    trace += [effect] if effect else []
    trace += [CADENCE_RULE] if too_soon else []
    row["pre_rule"], row["trace"] = pre_rule, trace


def _limits(
    rows: list[dict[str, Any]],
    history: list[tuple[str, str, str, bool, bool, date]],
    moved: dict[str, date],
    pack: CompliancePack,
) -> None:
    """Frequency caps and cool-downs: each row gets `limits`, the rules of the pack it breaks."""
    for row in rows:
        row["limits"] = []
    for cap in pack.frequency_caps:
        day = moved[cap.channel]
        since = day - timedelta(days=cap.days - 1)
        scope = 0 if cap.scope == "debt" else 1
        used: defaultdict[str, int] = defaultdict(int)
        for account, customer, channel, connected, _, local_date in history:
            if channel != cap.channel or not since <= local_date <= day:
                continue
            if cap.counts == "connected" and not connected:
                continue
            used[(account, customer)[scope]] += 1
        queues: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if row["pre_rule"] is None and row["channel"] == cap.channel:
                queues[row["account_id"] if scope == 0 else row["customer_id"]].append(row)
        for key, queue in queues.items():
            # Highest priority first (NULL last), then account and channel number.
            queue.sort(key=lambda r: _by_priority(r["priority"], r["account_id"], r["channel_no"]))
            for nth, row in enumerate(queue, start=1):
                if used[key] + nth > cap.max:
                    row["limits"].append(cap.id)
    for cool in pack.cooldowns:
        since = moved[cool.channel] - timedelta(days=cool.days - 1)
        scope = 0 if cool.scope == "debt" else 1
        talked: dict[str, date] = {}
        for account, customer, channel, _, conversation, local_date in history:
            key = (account, customer)[scope]
            if channel == cool.channel and conversation and talked.get(key, date.min) < local_date:
                talked[key] = local_date
        for row in rows:
            key = row["account_id"] if scope == 0 else row["customer_id"]
            if (
                row["pre_rule"] is None
                and row["channel"] == cool.channel
                and key in talked
                and talked[key] >= since
            ):
                row["limits"].append(cool.id)


PLAN_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("customer_id", pa.string()),
        ("party", pa.string()),
        ("segment", pa.string()),
        ("segment_rule_index", pa.int32()),
        ("stage", pa.string()),
        ("channel", pa.string()),
        ("template", pa.string()),
        ("tone", pa.string()),
        ("cadence_days", pa.int32()),
        ("queue", pa.string()),
        ("experiment", pa.string()),
        ("arm", pa.string()),
        ("priority", pa.float64()),
        ("planned_date", pa.date32()),
        ("contact_date", pa.date32()),
        ("timezone", pa.string()),
        ("window_start", pa.string()),
        ("window_end", pa.string()),
        ("status", pa.string()),
        ("suppressed_by", pa.string()),
        ("rules", pa.string()),
        ("idempotency_key", pa.string()),
    ]
)


def _output(row: dict[str, Any]) -> dict[str, Any]:
    suppressed_by = row["pre_rule"] or (row["limits"][0] if row["limits"] else None)
    rules = ",".join(row["trace"] + row["limits"]) or None
    key = None
    if row["channel"] is not None:
        text = f"{row['contact_date'].isoformat()}|{row['account_id']}|{row['channel']}"
        key = hashlib.sha256(text.encode()).hexdigest()[:32]
    return {
        **{name: row.get(name) for name in PLAN_SCHEMA.names},
        "party": "debtor",
        "status": "planned" if suppressed_by is None else "suppressed",
        "suppressed_by": suppressed_by,
        "rules": rules,
        "idempotency_key": key,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("snapshot", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    parser.add_argument("--strategy", type=Path, default=ROOT / "strategies" / "default.yaml")
    parser.add_argument("--pack", default="cn")
    parser.add_argument("--customer-mod", type=int, default=1)
    args = parser.parse_args()
    strategy = load_strategy(args.strategy).strategy
    if strategy is None:
        raise SystemExit(f"{args.strategy}: not a valid strategy")
    report = plan(
        args.snapshot,
        args.out,
        strategy=strategy,
        pack=load_pack(args.pack).pack,
        as_of=args.as_of,
        customer_mod=args.customer_mod,
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
