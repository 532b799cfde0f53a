"""The compliance guard: the strategy's wishes in, only lawful actions out, each change explained.

Input: the strategy's action rows (strategy/compiler.compile_actions_ctes: one row per account and
channel) and the snapshot's customers, holds and contact history. Output: the contact plan, one
row per action, `status` 'planned' or 'suppressed', with `suppressed_by` naming the first rule
that stopped it and `rules` listing (comma-separated) every rule that changed it.

What the guard does, in this order (rule ids as recorded):

1. Vulnerable customers (a `vulnerable` hold active on the planned day on any of their
   accounts: vulnerability is the person's): the strategy actions of all their accounts are
   suppressed (`vulnerable.specialist_queue`) and one specialist action per customer replaces
   them (the pack's queue, channel, template, gentle tone), on the account with the highest
   priority among those not on hold for that channel on its contact day (any, if all are); it
   passes through every rule below like any other.
2. Hard holds active on the contact day: `hold.deceased`, `hold.bankruptcy`,
   `hold.legal`, `hold.dispute`, `hold.hardship` (the 缓催 pause; it ends by itself when the hold's
   end date passes), `hold.do_not_contact`. Legal, dispute and hardship holds are about one debt
   and stop its account; deceased, bankruptcy and do-not-contact are about the person, and a
   hold on any of the customer's accounts stops all of them. Then a channel opt-out (`hold.channel_opt_out`) and a
   missing consent for a channel that needs one (`consent.missing`: NULL counts as no consent).
3. Public holidays: the pack's channels move to the next day that is not one
   (`holiday.deferred`); the other checks then use that day.
4. Hours: the bank's operating hours for the channel, intersected with the pack's contact hours
   in the customer's local time zone. Narrower → `hours.narrowed`; nothing left →
   `hours.no_lawful_window` (suppressed).
5. Cadence (the strategy's own rule, not the law): no repeat on a channel within the treatment's
   `cadence_days` of the last contact on it (`strategy.cadence`).
6. Frequency caps and cool-downs of the pack, over the contact history in local days, with the
   plan's own calls counted: within one scope (debt = account, debtor = customer) the
   highest-priority calls are kept first. A call suppressed by an earlier rule uses no quota.

All rules are evaluated in one SQL statement over whole tables; the per-time-zone and per-channel
facts (windows, holiday moves, local-day bounds) come from the small reference tables built by
`reference_tables`, so no Python runs per account. The SQL is written for DuckDB and kept to
constructs sqlglot transpiles to Spark SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pyarrow as pa

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
    FrequencyCap,
)
from huancui.kit import duck
from huancui.kit.calendar import (
    END_OF_DAY,
    day_window,
    holiday_name,
    iso_local,
    local_day_bounds,
    next_open_day,
)
from huancui.kit.sql import lit
from huancui.strategy.spec import Strategy

PLAN_COLUMNS: tuple[str, ...] = (
    "account_id",
    "customer_id",
    "party",
    "segment",
    "segment_rule_index",
    "stage",
    "channel",
    "template",
    "tone",
    "cadence_days",
    "queue",
    "experiment",
    "arm",
    "priority",
    "planned_date",
    "contact_date",
    "timezone",
    "window_start",
    "window_end",
    "status",
    "suppressed_by",
    "rules",
    "idempotency_key",
)
CHANNELS: tuple[str, ...] = ("sms", "email", "call", "visit", "letter", "legal")
NO_SEGMENT_RULE = "strategy.no_segment"
HOLDOUT_RULE = "strategy.early_warning_holdout"


@dataclass(frozen=True)
class ChannelDay:
    """Where one channel's actions land: the planned day or, on a holiday, a later one."""

    channel: str
    planned_date: date
    contact_date: date
    holiday: str | None


# The columns of a source of holds (the snapshot's holds file, the case plane's holds).
HOLDS_SCHEMA = pa.schema(
    [
        ("hold_id", pa.string()),
        ("account_id", pa.string()),
        ("hold_type", pa.string()),
        ("channel", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
        ("reason", pa.string()),
    ]
)
# What the guard reads: every source as one table, with the customer who owns each hold's account
# where the source records it (the import writes it into the snapshot's holds file; the case
# plane knows its accounts' customers). NULL: the owner is unknown.
GUARD_HOLDS_SCHEMA = HOLDS_SCHEMA.append(pa.field("customer_id", pa.string()))


DAYS_SCHEMA = pa.schema(
    [
        ("channel", pa.string()),
        ("planned_date", pa.date32()),
        ("contact_date", pa.date32()),
        ("holiday", pa.string()),
    ]
)
WINDOWS_SCHEMA = pa.schema(
    [
        (name, pa.string())
        for name in ("timezone", "channel", "window_start", "window_end", "hours_effect")
    ]
)
LOCAL_DAYS_SCHEMA = pa.schema(
    [
        ("timezone", pa.string()),
        ("local_date", pa.date32()),
        ("utc_start", pa.timestamp("us", tz="UTC")),
        ("utc_end", pa.timestamp("us", tz="UTC")),
    ]
)
# How DuckDB turns a Python list (parameter $n) into a column of each type.
_UNNEST_SQL = {
    pa.string(): "unnest(${n}::VARCHAR[])",
    pa.date32(): "unnest(${n}::DATE[])",
    # The calendar's instants are naive UTC; the connection's zone is UTC.
    pa.timestamp("us", tz="UTC"): "unnest(${n}::TIMESTAMP[])::TIMESTAMPTZ",
}


def arrow_tables(*tables: tuple[dict[str, list[object]], pa.Schema]) -> list[pa.Table]:
    """Arrow tables of the given schemas from Python lists of equal length, built by DuckDB.

    Not pa.table: pyarrow checks every Python sequence for a pandas type and so imports pandas
    (a quarter of a second on 2 cores, more on a busy host) into a nightly run that uses no
    data frame; a cast would import pyarrow.compute, so it is done only if a type differs.
    """
    built = []
    with duck.connection() as con:
        con.execute("SET TimeZone = 'UTC'")
        for columns, schema in tables:
            selects = ", ".join(
                _UNNEST_SQL[field.type].format(n=i + 1) + f" AS {field.name}"
                for i, field in enumerate(schema)
            )
            values = [columns[name] for name in schema.names]
            table = con.sql(f"SELECT {selects}", params=values).to_arrow_table()
            built.append(table if table.schema.equals(schema) else table.cast(schema))
    return built


@dataclass(frozen=True)
class ReferenceTables:
    """The small per-channel and per-zone tables the guard joins (see the module doc)."""

    days: pa.Table  # channel, planned_date, contact_date, holiday
    windows: pa.Table  # timezone, channel, window_start, window_end, hours_effect
    local_days: pa.Table  # timezone, local_date, utc_start, utc_end (UTC instants)
    channel_days: tuple[ChannelDay, ...]
    # The earliest utc_start and latest utc_end of local_days (naive UTC); None if it is empty.
    lookback: tuple[datetime, datetime] | None = None

    def contact_date(self, channel: str) -> date:
        return next(d.contact_date for d in self.channel_days if d.channel == channel)


def lookback_days(strategy: Strategy, pack: CompliancePack) -> int:
    """How many days of contact history the guard needs."""
    spans = [t.cadence_days for t in strategy.treatments]
    spans += [c.treatment.cadence_days or 0 for c in strategy.challengers]
    spans += [c.days for c in pack.frequency_caps] + [c.days for c in pack.cooldowns]
    spans.append(pack.vulnerable.cadence_days)
    return max(spans)


def reference_tables(
    *,
    strategy: Strategy,
    pack: CompliancePack,
    planned_date: date,
    timezones: Iterable[str | None],
) -> ReferenceTables:
    """Build the guard's reference tables for a run whose actions are meant for `planned_date`.

    `timezones` are the customers' zones (None: unknown, the pack's default is used). Raises
    ValueError naming an unknown zone.
    """
    zones = sorted({tz or pack.default_timezone for tz in timezones} | {pack.default_timezone})
    channel_days = []
    for channel in CHANNELS:
        rule = pack.holidays
        moved = planned_date
        holiday = None
        if rule is not None and channel in rule.channels:
            holiday = holiday_name(planned_date, rule.calendar)
            moved = next_open_day(planned_date, rule.calendar, max_days=rule.max_defer_days)
        channel_days.append(ChannelDay(channel, planned_date, moved, holiday))

    day_rows: dict[str, list[object]] = {
        "channel": [d.channel for d in channel_days],
        "planned_date": [d.planned_date for d in channel_days],
        "contact_date": [d.contact_date for d in channel_days],
        "holiday": [d.holiday for d in channel_days],
    }

    window_rows: dict[str, list[object]] = {name: [] for name in WINDOWS_SCHEMA.names}
    for tz in zones:
        for d in channel_days:
            start, end, effect = _window(strategy, pack, d.channel, d.contact_date, tz)
            for key, value in zip(window_rows, (tz, d.channel, start, end, effect), strict=True):
                window_rows[key].append(value)

    first = planned_date - timedelta(days=lookback_days(strategy, pack) + 1)
    last = max(d.contact_date for d in channel_days)
    local: dict[str, list[object]] = {name: [] for name in LOCAL_DAYS_SCHEMA.names}
    starts: list[datetime] = []
    ends: list[datetime] = []
    for tz in zones:
        day = first
        while day <= last:
            start_utc, end_utc = local_day_bounds(day, tz)
            starts.append(start_utc)
            ends.append(end_utc)
            local["timezone"].append(tz)
            local["local_date"].append(day)
            local["utc_start"].append(start_utc)
            local["utc_end"].append(end_utc)
            day += timedelta(days=1)
    days, windows, local_days = arrow_tables(
        (day_rows, DAYS_SCHEMA), (window_rows, WINDOWS_SCHEMA), (local, LOCAL_DAYS_SCHEMA)
    )
    lookback = (min(starts), max(ends)) if starts else None
    return ReferenceTables(days, windows, local_days, tuple(channel_days), lookback)


def _window(
    strategy: Strategy, pack: CompliancePack, channel: str, day: date, tz: str
) -> tuple[str | None, str | None, str | None]:
    """(start, end, effect) of the lawful window for `channel` on the customer's local `day`."""
    whole_day = day_window(day, time(0), END_OF_DAY, tz)
    lawful = whole_day
    if channel in pack.timed_channels:
        hours = pack.contact_hours
        lawful = day_window(day, hours.start_time, hours.end_time, tz)
    wanted = whole_day
    bank = strategy.operating_hours
    bank_hours = bank.for_channel(channel)
    if bank_hours is not None:
        # The bank's hours on the same calendar day as the customer's, in the bank's zone.
        wanted = day_window(day, bank_hours.start_time, bank_hours.end_time, bank.timezone)
    window = wanted.intersect(lawful).in_zone(tz)
    if window.empty:
        return None, None, HOURS_CLOSED_RULE
    effect = None if lawful.contains(wanted) else HOURS_NARROWED_RULE
    return iso_local(window.start), iso_local(window.end), effect


def _scope_key(scope: str) -> str:
    return "account_id" if scope == "debt" else "customer_id"


def guard_sql(
    *,
    strategy_ctes: str,
    pack: CompliancePack,
    refs: ReferenceTables,
    customers: str = "snap_customers",
    holds: str = "snap_holds",
    contacts: str = "snap_contacts",
    accounts: str = "snap_accounts",
    days: str = "ref_days",
    windows: str = "ref_windows",
    local_days: str = "ref_local_days",
    owners_in_rows: bool = False,
) -> str:
    """The whole plan as one SELECT (see the module doc); columns PLAN_COLUMNS.

    The guard needs the customer behind every hold and recent contact (person-level holds,
    vulnerability, per-debtor caps). With `owners_in_rows` the holds and contacts carry it in
    `customer_id` (a NULL: an account the snapshot does not have), as an imported snapshot's
    files and the case plane's holds do; without it, the accounts are scanned for it.
    """
    planned = refs.channel_days[0].planned_date
    v = pack.vulnerable
    specialist_day = refs.contact_date(v.channel)
    hold_flags = ",\n        ".join(
        f"max(CASE WHEN h.hold_type = {lit(kind)} THEN 1 ELSE 0 END) AS h_{kind}"
        for kind, _ in HARD_HOLDS
    )
    hold_types = ", ".join(lit(kind) for kind, _ in HARD_HOLDS)

    def held(kind: str) -> str:
        on_account = f"coalesce(f.h_{kind}, 0) = 1"
        if kind in PERSON_HOLDS:
            return f"({on_account} OR coalesce(pf.h_{kind}, 0) = 1)"
        return on_account

    hold_whens = "\n            ".join(
        f"WHEN {held(kind)} THEN {lit(rule)}" for kind, rule in HARD_HOLDS
    )
    hold_trace = ", ".join(
        f"CASE WHEN {held(kind)} THEN {lit(rule)} END" for kind, rule in HARD_HOLDS
    )
    person_flags = ",\n        ".join(
        f"max(CASE WHEN h.hold_type = {lit(kind)} THEN 1 ELSE 0 END) AS h_{kind}"
        for kind, _ in HARD_HOLDS
        if kind in PERSON_HOLDS
    )
    person_types = ", ".join(lit(kind) for kind, _ in HARD_HOLDS if kind in PERSON_HOLDS)
    consented_channels = [ch for ch in pack.consent_channels if ch in ("sms", "email", "call")]
    consent_cases = " ".join(
        f"WHEN {lit(ch)} THEN coalesce(c.consent_{ch}, FALSE)" for ch in consented_channels
    )
    customer_columns = ", ".join(
        ["customer_id", "timezone"] + [f"consent_{ch}" for ch in consented_channels]
    )
    consent_expr = f"CASE a.channel {consent_cases} ELSE TRUE END" if consent_cases else "TRUE"

    cap_ctes, cap_joins, cap_checks = [], [], []
    for i, cap in enumerate(pack.frequency_caps):
        cte, join, check = _cap_sql(i, cap, refs)
        cap_ctes.append(cte)
        cap_joins.append(join)
        cap_checks.append(check)
    for i, cool in enumerate(pack.cooldowns):
        contact_day = refs.contact_date(cool.channel)
        since = contact_day - timedelta(days=cool.days - 1)
        key = _scope_key(cool.scope)
        cap_ctes.append(
            f"""cool_{i} AS (
    SELECT {key} AS scope_key, max(local_date) AS last_conversation FROM history
    WHERE channel = {lit(cool.channel)} AND conversation
    GROUP BY {key}
)"""
        )
        cap_joins.append(f"LEFT JOIN cool_{i} ON cool_{i}.scope_key = s.{key}")
        cap_checks.append(
            (
                f"s.pre_rule IS NULL AND s.channel = {lit(cool.channel)}"
                f" AND cool_{i}.last_conversation >= DATE '{since.isoformat()}'",
                cool.id,
            )
        )
    ctes_extra = (",\n" + ",\n".join(cap_ctes)) if cap_ctes else ""
    final_checks = " ".join(f"WHEN {cond} THEN {lit(rule)}" for cond, rule in cap_checks)
    final_suppress = (
        f"coalesce(s.pre_rule, CASE {final_checks} END)" if cap_checks else "s.pre_rule"
    )
    final_trace = ", ".join(f"CASE WHEN {cond} THEN {lit(rule)} END" for cond, rule in cap_checks)
    trace_tail = f", {final_trace}" if final_trace else ""

    return f"""
WITH {strategy_ctes},
recent_contacts AS (
    -- Only the look-back matters; dropping older contacts first keeps the joins below small.
    SELECT * FROM {contacts}
    WHERE {_lookback_filter(refs)}
),
owners AS (
    -- The customer of every account that a hold or a recent contact names (one row per account):
    -- it serves the person's holds, vulnerability and the history.
    {_owners_sql(owners_in_rows, accounts=accounts, holds=holds)}
),
vulnerable AS (
    SELECT DISTINCT va.customer_id
    FROM {holds} AS h JOIN owners AS va ON va.account_id = h.account_id
    WHERE h.hold_type = 'vulnerable'
      AND h.start_date <= DATE '{planned.isoformat()}'
      AND (h.end_date IS NULL OR h.end_date >= DATE '{planned.isoformat()}')
),
specialist_blocked AS (
    SELECT DISTINCT account_id FROM {holds}
    WHERE (hold_type IN ({hold_types})
           OR (hold_type = 'channel_opt_out' AND channel = {lit(v.channel)}))
      AND start_date <= DATE '{specialist_day.isoformat()}'
      AND (end_date IS NULL OR end_date >= DATE '{specialist_day.isoformat()}')
),
specialist_candidates AS (
    SELECT s.*,
        row_number() OVER (
            PARTITION BY s.customer_id
            ORDER BY CASE WHEN b.account_id IS NULL THEN 0 ELSE 1 END,
                     s.priority DESC NULLS LAST, s.account_id
        ) AS nth
    FROM strategy_actions AS s
    JOIN vulnerable AS w ON w.customer_id = s.customer_id
    LEFT JOIN specialist_blocked AS b ON b.account_id = s.account_id
    WHERE s.channel_no = 1
),
specialist AS (
    SELECT s.account_id, s.customer_id, s.segment, s.segment_rule_index, s.stage,
           s.experiment, s.arm, s.priority, s.reason,
           0 AS channel_no, {lit(v.channel)} AS channel, {lit(v.template)} AS template,
           {lit(v.tone)} AS tone, {v.cadence_days} AS cadence_days, {lit(v.queue)} AS queue,
           TRUE AS vulnerable, TRUE AS specialist
    FROM specialist_candidates AS s
    WHERE s.nth = 1
),
actions AS (
    SELECT s.account_id, s.customer_id, s.segment, s.segment_rule_index, s.stage,
           s.experiment, s.arm, s.priority, s.reason,
           s.channel_no, s.channel, s.template, s.tone, s.cadence_days, s.queue,
           (w.customer_id IS NOT NULL) AS vulnerable, FALSE AS specialist
    FROM strategy_actions AS s LEFT JOIN vulnerable AS w ON w.customer_id = s.customer_id
    UNION ALL
    SELECT * FROM specialist
),
needed_customers AS (
    -- The customers the actions and the history name, read once for both.
    SELECT {customer_columns} FROM {customers}
    WHERE customer_id IN (
        SELECT customer_id FROM actions UNION SELECT customer_id FROM owners
    )
),
dated AS (
    SELECT a.*,
           coalesce(nullif(c.timezone, ''), {lit(pack.default_timezone)}) AS timezone,
           DATE '{planned.isoformat()}' AS planned_date,
           coalesce(d.contact_date, DATE '{planned.isoformat()}') AS contact_date, d.holiday,
           {consent_expr} AS consented
    FROM actions AS a
    LEFT JOIN needed_customers AS c ON c.customer_id = a.customer_id
    LEFT JOIN {days} AS d ON d.channel = a.channel
),
hold_flags AS (
    SELECT k.account_id, k.contact_date,
        {hold_flags}
    FROM (SELECT DISTINCT account_id, contact_date FROM dated WHERE channel IS NOT NULL) AS k
    JOIN {holds} AS h
      ON h.account_id = k.account_id
     AND h.start_date <= k.contact_date
     AND (h.end_date IS NULL OR h.end_date >= k.contact_date)
    WHERE h.hold_type IN ({hold_types})
    GROUP BY k.account_id, k.contact_date
),
person_flags AS (
    SELECT k.customer_id, k.contact_date,
        {person_flags}
    FROM (SELECT DISTINCT customer_id, contact_date FROM dated WHERE channel IS NOT NULL) AS k
    JOIN owners AS ha ON ha.customer_id = k.customer_id
    JOIN {holds} AS h
      ON h.account_id = ha.account_id
     AND h.start_date <= k.contact_date
     AND (h.end_date IS NULL OR h.end_date >= k.contact_date)
    WHERE h.hold_type IN ({person_types})
    GROUP BY k.customer_id, k.contact_date
),
opt_outs AS (
    SELECT DISTINCT k.account_id, k.channel, k.contact_date
    FROM (SELECT DISTINCT account_id, channel, contact_date FROM dated WHERE channel IS NOT NULL) AS k
    JOIN {holds} AS h
      ON h.account_id = k.account_id AND h.channel = k.channel
     AND h.start_date <= k.contact_date
     AND (h.end_date IS NULL OR h.end_date >= k.contact_date)
    WHERE h.hold_type = 'channel_opt_out'
),
history AS (
    SELECT k.account_id, a.customer_id, k.channel,
           coalesce(k.connected, FALSE) AS connected,
           coalesce(k.connected, FALSE) AND coalesce(k.right_party, FALSE) AS conversation,
           ld.local_date
    FROM recent_contacts AS k
    JOIN owners AS a ON a.account_id = k.account_id
    LEFT JOIN needed_customers AS c ON c.customer_id = a.customer_id
    JOIN {local_days} AS ld
      ON ld.timezone = coalesce(nullif(c.timezone, ''), {lit(pack.default_timezone)})
     AND k.contacted_at >= ld.utc_start AND k.contacted_at < ld.utc_end
),
last_touch AS (
    SELECT account_id, channel, max(local_date) AS last_date FROM history
    GROUP BY account_id, channel
),
screened AS (
    SELECT a.*,
        w.window_start, w.window_end, w.hours_effect,
        t.last_date,
        CASE
            WHEN a.channel IS NULL AND a.segment IS NOT NULL THEN {lit(HOLDOUT_RULE)}
            WHEN a.channel IS NULL THEN {lit(NO_SEGMENT_RULE)}
            WHEN a.vulnerable AND NOT a.specialist THEN {lit(VULNERABLE_RULE)}
            {hold_whens}
            WHEN o.account_id IS NOT NULL THEN {lit(OPT_OUT_RULE)}
            WHEN NOT a.consented THEN {lit(CONSENT_RULE)}
            WHEN w.window_start IS NULL THEN {lit(HOURS_CLOSED_RULE)}
            WHEN t.last_date IS NOT NULL
             AND t.last_date > a.contact_date - a.cadence_days THEN {lit(CADENCE_RULE)}
        END AS pre_rule,
        concat_ws(',',
            CASE WHEN a.vulnerable THEN {lit(VULNERABLE_RULE)} END,
            {hold_trace},
            CASE WHEN o.account_id IS NOT NULL THEN {lit(OPT_OUT_RULE)} END,
            CASE WHEN a.channel IS NOT NULL AND NOT a.consented THEN {lit(CONSENT_RULE)} END,
            CASE WHEN a.contact_date > a.planned_date THEN {lit(HOLIDAY_DEFERRED_RULE)} END,
            CASE WHEN a.channel IS NOT NULL AND w.window_start IS NULL THEN {lit(HOURS_CLOSED_RULE)}
                 ELSE w.hours_effect END,
            CASE WHEN t.last_date IS NOT NULL
                  AND t.last_date > a.contact_date - a.cadence_days THEN {lit(CADENCE_RULE)} END
        ) AS pre_trace
    FROM dated AS a
    LEFT JOIN hold_flags AS f ON f.account_id = a.account_id AND f.contact_date = a.contact_date
    LEFT JOIN person_flags AS pf
      ON pf.customer_id = a.customer_id AND pf.contact_date = a.contact_date
    LEFT JOIN opt_outs AS o
      ON o.account_id = a.account_id AND o.channel = a.channel AND o.contact_date = a.contact_date
    LEFT JOIN {windows} AS w ON w.timezone = a.timezone AND w.channel = a.channel
    LEFT JOIN last_touch AS t ON t.account_id = a.account_id AND t.channel = a.channel
){ctes_extra},
decided AS (
    SELECT s.*,
        {final_suppress} AS suppressed_by,
        concat_ws(',', CASE WHEN s.pre_trace = '' THEN NULL ELSE s.pre_trace END{trace_tail}) AS all_rules
    FROM screened AS s
    {" ".join(cap_joins)}
)
SELECT
    account_id, customer_id, 'debtor' AS party, segment, segment_rule_index, stage,
    channel, template, tone, cadence_days, queue, experiment, arm, priority,
    planned_date, contact_date, timezone, window_start, window_end,
    CASE WHEN suppressed_by IS NULL THEN 'planned' ELSE 'suppressed' END AS status,
    suppressed_by,
    CASE WHEN all_rules = '' THEN NULL ELSE all_rules END AS rules,
    CASE WHEN channel IS NOT NULL THEN
        substr(sha256(concat_ws('|', CAST(contact_date AS VARCHAR), account_id, channel)), 1, 32)
    END AS idempotency_key
FROM decided
ORDER BY account_id, channel_no
""".strip()


def _owners_sql(owners_in_rows: bool, *, accounts: str, holds: str) -> str:
    if owners_in_rows:
        # As recorded with the rows; min() keeps one owner per account should two sources differ.
        return f"""SELECT account_id, min(customer_id) AS customer_id FROM (
        SELECT account_id, customer_id FROM {holds}
        UNION ALL SELECT account_id, customer_id FROM recent_contacts
    ) AS named
    WHERE customer_id IS NOT NULL
    GROUP BY account_id"""
    return f"""SELECT account_id, customer_id FROM {accounts}
    WHERE account_id IN (
        SELECT account_id FROM {holds} UNION SELECT account_id FROM recent_contacts
    )"""


def _lookback_filter(refs: ReferenceTables) -> str:
    """The contacts inside the local days the guard looks at, as constant UTC bounds.

    Constants (not a subquery on the local-days table) let the engine push the filter into the
    contacts scan: on 1,000,000 accounts with 1.1 M contacts that cut the plan query's CPU time by
    about a sixth (docs/benchmarks.md). No local days: no contact counts."""
    if refs.lookback is None:
        return "FALSE"
    first, last = (lit(f"{instant.isoformat(sep=' ')}+00:00") for instant in refs.lookback)
    return f"contacted_at >= CAST({first} AS TIMESTAMPTZ) AND contacted_at < CAST({last} AS TIMESTAMPTZ)"


def _cap_sql(i: int, cap: FrequencyCap, refs: ReferenceTables) -> tuple[str, str, tuple[str, str]]:
    """CTE counting used quota, its join, and the (condition, rule) that suppresses a row."""
    contact_day = refs.contact_date(cap.channel)
    since = contact_day - timedelta(days=cap.days - 1)
    key = _scope_key(cap.scope)
    connected = " AND connected" if cap.counts == "connected" else ""
    cte = f"""cap_{i} AS (
    SELECT {key} AS scope_key, count(*) AS used FROM history
    WHERE channel = {lit(cap.channel)}{connected}
      AND local_date BETWEEN DATE '{since.isoformat()}' AND DATE '{contact_day.isoformat()}'
    GROUP BY {key}
),
rank_{i} AS (
    SELECT account_id, channel_no,
        row_number() OVER (
            PARTITION BY {key} ORDER BY priority DESC NULLS LAST, account_id, channel_no
        ) AS nth
    FROM screened
    WHERE pre_rule IS NULL AND channel = {lit(cap.channel)}
)"""
    join = (
        f"LEFT JOIN cap_{i} ON cap_{i}.scope_key = s.{key}"
        f" LEFT JOIN rank_{i} ON rank_{i}.account_id = s.account_id"
        f" AND rank_{i}.channel_no = s.channel_no"
    )
    condition = (
        f"s.pre_rule IS NULL AND s.channel = {lit(cap.channel)}"
        f" AND coalesce(cap_{i}.used, 0) + rank_{i}.nth > {cap.max}"
    )
    return cte, join, (condition, cap.id)
