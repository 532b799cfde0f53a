"""The simulated world, day by day: accounts fall due, customers respond to what the plan did,
pay, promise, ask for 缓催, complain or leave. Every step is vectorised over accounts (numpy);
only days are looped (simulation/loop.py).

The world starts from an imported snapshot of a synthetic delivery and its truth (latent ability
and willingness, running life events): docs/world-model.md. Responses follow the behaviour model
(behaviour.yaml, docs/simulation.md). The world writes itself back as the snapshot's `accounts`
and `contacts` Parquet files, so the production engine plans on it like on a bank's delivery.

Random draws use common random numbers: each day's uniforms are drawn per account from a stream
keyed by (seed, day, purpose), so two strategies run on the same seed face the same luck.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from huancui.kit.sql import lit
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.synthetic.parameters import DEFAULT_PARAMETERS
from huancui.portfolio.synthetic.world import (
    Outcome,
    logit_cutpoints,
    ordered_category,
    outcome_cutpoints,
    sigmoid,
)
from huancui.simulation.behaviour import CHANNELS, TONES, Behaviour
from huancui.strategy.pipeline import CONTACTS_SCHEMA

NO_DAY = -(2**30)
EPOCH = date(1970, 1, 1)
TOLERANCE_FEN = 1_000  # arrears this small count as paid (the delinquency policy's tolerance)
OPEN, CLOSED, CHARGED_OFF = 0, 1, 2
STATUS = np.array(["open", "closed", "charged_off"])
CH = {name: i for i, name in enumerate(CHANNELS)}
TONE = {name: i for i, name in enumerate(TONES)}
WORK_CHANNELS = (CH["call"], CH["visit"])
# Conversation outcomes of a right-party call or visit.
NOTHING, PAY_NOW, PROMISE, REFUSAL, DISPUTE = 0, 1, 2, 3, 4
CONTACT_OUTCOMES = np.array(
    ["no_answer", "paid", "promise", "refusal", "dispute", "right_party", "delivered", "other"]
)
_RIGHT_PARTY, _DELIVERED, _OTHER = 5, 6, 7
# Purposes of the per-account uniforms of a day (common random numbers).
(
    U_DUE,
    U_DUE_SHARE,
    U_PAY,
    U_AMOUNT,
    U_PART,
    U_PROMISE_KEEP,
    U_ASK,
    U_APPROVE,
    U_COMPLAIN,
    U_LEAVE,
    U_SURVEY,
    U_SCORE,
    _U_SPARE_1,  # kept so that the later purposes keep their streams
    _U_SPARE_2,
    U_RECOVERY,
) = range(15)
U_PURPOSES = 15
# Where collected money came from, for the run's breakdown.
SOURCES = ("own", "conversation", "promise", "charged_off")
OWN, CONVERSATION, PROMISE_KEPT, RECOVERY = range(4)
# Per account and channel (reach, connect, right party), and the conversation's Gumbel draws.
U_REACH, U_RIGHT = 0, 1
CONVERSATION_CHOICES = 5


def day_number(day: date) -> int:
    return (day - EPOCH).days


def as_date(number: int) -> date:
    return EPOCH + timedelta(days=int(number))


def _dates(numbers: np.ndarray) -> pa.Array:
    """int day numbers (NO_DAY → null) as an Arrow date32 array."""
    valid = numbers != NO_DAY
    values = np.where(valid, numbers, 0).astype(np.int32)
    return pa.array(values, type=pa.int32(), mask=~valid).cast(pa.date32())


def _day_numbers(column: pa.ChunkedArray) -> np.ndarray:
    filled = pc.fill_null(column.cast(pa.int32()), NO_DAY)
    return np.asarray(filled.to_numpy(), dtype=np.int64)


@dataclass
class Tally:
    """What happened, per account, since the start: the raw material of the KPIs."""

    n: int
    opening_arrears: np.ndarray
    arrears_added: np.ndarray
    collected: np.ndarray
    cured: np.ndarray
    ever_delinquent: np.ndarray
    early_delinquent: np.ndarray  # was 1-29 days past due at some time
    reached_30: np.ndarray  # ... and later 30+
    charged_off_in_window: np.ndarray
    attempts: np.ndarray  # (channels, n)
    reached: np.ndarray  # (channels, n)
    connected: np.ndarray  # calls and visits answered / met
    right_party: np.ndarray
    promises: np.ndarray
    promises_kept: np.ndarray
    promises_broken: np.ndarray
    complaints: np.ndarray
    surveys: np.ndarray
    survey_score_sum: np.ndarray
    survey_satisfied: np.ndarray
    pauses: np.ndarray
    pause_end: np.ndarray
    contacted: np.ndarray
    by_source: np.ndarray  # (sources,) collected fen by SOURCES
    written_off: np.ndarray  # arrears remainders within the tolerance, cleared when paid
    start_open: np.ndarray  # open (not charged off or closed) on the first day
    start_delinquent: np.ndarray  # ... and past due then

    @classmethod
    def empty(cls, n: int, opening_arrears: np.ndarray) -> Tally:
        def zeros(dtype: type = np.int64) -> np.ndarray:
            return np.zeros(n, dtype=dtype)

        return cls(
            n=n,
            opening_arrears=opening_arrears.copy(),
            arrears_added=zeros(),
            collected=zeros(),
            cured=zeros(np.int32),
            ever_delinquent=zeros(bool),
            early_delinquent=zeros(bool),
            reached_30=zeros(bool),
            charged_off_in_window=zeros(bool),
            attempts=np.zeros((len(CHANNELS), n), dtype=np.int32),
            reached=np.zeros((len(CHANNELS), n), dtype=np.int32),
            connected=zeros(np.int32),
            right_party=zeros(np.int32),
            promises=zeros(np.int32),
            promises_kept=zeros(np.int32),
            promises_broken=zeros(np.int32),
            complaints=zeros(np.int32),
            surveys=zeros(np.int32),
            survey_score_sum=zeros(np.int32),
            survey_satisfied=zeros(np.int32),
            pauses=zeros(np.int32),
            pause_end=np.full(n, NO_DAY, dtype=np.int64),
            contacted=zeros(bool),
            by_source=np.zeros(len(SOURCES), dtype=np.int64),
            written_off=zeros(),
            start_open=zeros(bool),
            start_delinquent=zeros(bool),
        )


@dataclass(frozen=True)
class DayFigures:
    day: date
    delinquent_accounts: int
    dpd30_accounts: int
    collected_fen: int
    complaints: int
    in_pause: int
    contacts: int


@dataclass
class World:
    """The state of every account and customer on `day` (after that day's events)."""

    behaviour: Behaviour
    policy: DelinquencyPolicy
    seed: int
    start: int  # day number of the starting snapshot
    day: int  # day number of the state
    static: pa.Table  # the snapshot's account columns that never change
    account_ids: pa.Array
    cust: np.ndarray  # customer index of each account
    is_card: np.ndarray
    due_dom: np.ndarray  # day of the month dues fall on (1..28)
    due_amount: np.ndarray  # one due, fen
    arrears: np.ndarray
    arrears_interest: np.ndarray  # parts of the arrears; the principal part is the rest
    arrears_fee: np.ndarray
    due_interest: np.ndarray  # parts of one due
    due_fee: np.ndarray
    bank_status: pa.Array  # the bank's status text on the first day
    missed: np.ndarray
    oldest_due: np.ndarray  # day number of the oldest unpaid due, NO_DAY when none
    delinquent_since: np.ndarray
    cycles: np.ndarray
    last_paid: np.ndarray
    balance: np.ndarray
    principal: np.ndarray
    interest: np.ndarray
    fees: np.ndarray
    status: np.ndarray
    charge_off_day: np.ndarray
    paid_ring: np.ndarray  # (30, n) payments per day, for paid_30d
    forgetful: np.ndarray
    promise_day: np.ndarray
    promise_amount: np.ndarray
    pause_until: np.ndarray
    litigation: np.ndarray  # a legal action was delivered: the legal process presses on
    salience: np.ndarray
    courtesy: np.ndarray  # salience of reminders reaching current customers (before a due)
    pressure: np.ndarray
    call_ring: np.ndarray  # (7, n) call and visit attempts per day
    # customers
    ability: np.ndarray
    willingness: np.ndarray
    shock: np.ndarray
    event_left: np.ndarray
    goodwill: np.ndarray
    attrited: np.ndarray
    good: np.ndarray
    first_account: np.ndarray  # one account per customer, for per-customer draws
    tally: Tally
    was_delinquent: np.ndarray
    contacts: list[pa.Table] = field(default_factory=list)
    holds: list[pa.Table] = field(default_factory=list)
    daily: list[DayFigures] = field(default_factory=list)
    contact_serial: int = 0

    # --- derived state ---------------------------------------------------------------------

    @property
    def n(self) -> int:
        return int(self.cust.shape[0])

    @property
    def ability_effective(self) -> np.ndarray:
        return np.asarray(self.ability - self.shock)

    def days_past_due(self, day: int | None = None) -> np.ndarray:
        today = self.day if day is None else day
        late = (self.oldest_due != NO_DAY) & (today - self.oldest_due > self.policy.grace_days)
        late &= self.status != CLOSED
        return np.where(late, today - self.oldest_due, 0).astype(np.int32)

    def uniforms(self, day: int, purposes: int, stream: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, day - self.start, stream])
        return rng.random((purposes, self.n), dtype=np.float32)

    # --- the snapshot the engine plans on -------------------------------------------------

    def accounts_table(self) -> pa.Table:
        dpd = self.days_past_due()
        buckets = self.policy.buckets
        names = np.array([b.name for b in buckets])
        lows = np.array([b.min_dpd for b in buckets])
        bucket = names[np.searchsorted(lows, dpd, side="right") - 1]
        interest, fees = self.arrears_interest, self.arrears_fee
        ring = self.paid_ring.sum(axis=0)
        delinquent = dpd > 0
        charged = self.status == CHARGED_OFF
        dynamic = {
            "status": pc.if_else(
                pa.array(self.tally.charged_off_in_window), "charged_off", self.bank_status
            ),
            "principal_fen": pa.array(self.principal),
            "interest_fen": pa.array(self.interest),
            "fees_fen": pa.array(self.fees),
            "balance_fen": pa.array(self.balance),
            "arrears_fen": pa.array(self.arrears),
            "arrears_principal_fen": pa.array(self.arrears - interest - fees),
            "arrears_interest_fen": pa.array(interest),
            "arrears_fee_fen": pa.array(fees),
            "missed_dues": pa.array(self.missed.astype(np.int32)),
            "days_past_due": pa.array(dpd),
            "bucket": pa.array(bucket),
            "oldest_unpaid_due_date": _dates(self.oldest_due),
            "delinquent_since": _dates(np.where(delinquent, self.delinquent_since, NO_DAY)),
            "cycles_delinquent": pa.array(self.cycles.astype(np.int32)),
            "last_payment_date": _dates(self.last_paid),
            "paid_30d_fen": pa.array(ring.astype(np.int64)),
            "charged_off": pa.array(charged),
            "charge_off_date": _dates(self.charge_off_day),
        }
        table = self.static
        for name, values in dynamic.items():
            index = table.schema.get_field_index(name)
            table = table.set_column(index, table.schema.field(index), values)
        return table

    def contacts_table(self, lookback_days: int) -> pa.Table:
        """The contact history of the last `lookback_days` (older rows are dropped for good)."""
        first = self.day - lookback_days
        table = pa.concat_tables(
            [t.cast(CONTACTS_SCHEMA) for t in self.contacts] or [CONTACTS_SCHEMA.empty_table()]
        )
        cutoff = pa.array(np.array([_utc_time(first, 0)]), pa.timestamp("us", tz="UTC"))[0]
        table = table.filter(pc.greater_equal(table.column("contacted_at"), cutoff))
        self.contacts = [table]
        return table

    def case_holds(self, schema: pa.Schema) -> pa.Table:
        """Pauses, promises and disputes in force, as the holds the guard applies (the case
        plane's contact/holds.for_run)."""
        if not self.holds:
            return schema.empty_table()
        table = pa.concat_tables([t.cast(schema) for t in self.holds])
        today = pa.scalar(as_date(self.day), pa.date32())
        open_ended = pc.is_null(table.column("end_date"))
        table = table.filter(
            pc.or_(
                open_ended, pc.fill_null(pc.greater_equal(table.column("end_date"), today), False)
            )
        )
        self.holds = [table]
        return table

    # --- one day ---------------------------------------------------------------------------

    def step(self, plan: pa.Table | None) -> DayFigures:
        """Advance to the next day: events, dues, the plan's contacts and everyone's responses."""
        today = self.day + 1
        self.day = today
        u = self.uniforms(today, U_PURPOSES, 0)
        self._life_events()
        self._decay()
        self._roll_rings(today)
        self._dues(today, u)
        paid_today = np.zeros(self.n, dtype=np.int64)
        delivery = self._deliver(today, plan)
        talk = self._conversations(today, u, delivery, paid_today)
        self._record_contacts(today, delivery, talk)
        self._promises_due(today, u, paid_today)
        self._hardship_self_service(today, u)
        self._daily_payments(today, u, paid_today)
        complaints = self._complaints_and_leaving(today, u, delivery)
        self._surveys(u, delivery, talk)
        self._charge_off(today)
        self._end_of_day(today)
        dpd = np.where(self.status == OPEN, self.days_past_due(), 0)
        figures = DayFigures(
            day=as_date(today),
            delinquent_accounts=int((dpd > 0).sum()),
            dpd30_accounts=int((dpd >= 30).sum()),
            collected_fen=int(paid_today.sum()),
            complaints=complaints,
            in_pause=int((self.pause_until >= today).sum()),
            contacts=0 if delivery is None else int(delivery.idx.size),
        )
        self.daily.append(figures)
        return figures

    # --- the parts of a day ------------------------------------------------------------------

    def _life_events(self) -> None:
        """Running events tick down; new ones start with the world's hazards (per day)."""
        running = self.event_left > 0
        self.event_left[running] -= 1
        self.shock[running & (self.event_left == 0)] = 0.0
        customers = self.ability.shape[0]
        rng = np.random.default_rng([self.seed, self.day - self.start, 1])
        scale = self.behaviour.hardship.event_daily_hazard_scale / 30.4
        for kind in DEFAULT_PARAMETERS.life_events:
            draw = rng.random((2, customers))
            if kind.monthly_hazard <= 0:
                continue
            start = (self.event_left == 0) & (draw[0] < kind.monthly_hazard * scale)
            # 1 + geometric months with the world's mean, spread over the days of a month.
            months = rng.geometric(1.0 / max(kind.mean_duration_months, 1.0), customers)
            days = np.maximum(1, np.round(months * 30.4 * (0.5 + draw[1]))).astype(np.int32)
            self.shock[start] = kind.ability_shock
            self.event_left[start] = days[start]

    def _decay(self) -> None:
        self.salience *= np.float32(0.5 ** (1.0 / self.behaviour.salience.half_life_days))
        self.courtesy *= np.float32(0.5 ** (1.0 / self.behaviour.salience.half_life_days))
        self.pressure *= np.float32(0.5 ** (1.0 / self.behaviour.pressure.half_life_days))
        self.goodwill *= np.float32(1.0 - self.behaviour.goodwill.daily_decay)

    def _roll_rings(self, today: int) -> None:
        self.paid_ring[today % 30] = 0
        self.call_ring[today % 7] = 0

    def _dues(self, today: int, u: np.ndarray) -> None:
        """Accounts whose due day it is get a due; current ones decide as the world's monthly
        model does (on time, late, partly, not at all)."""
        billable = np.maximum(self.balance - self.arrears, 0)
        due = (self.due_dom == as_date(today).day) & (self.status == OPEN) & (billable > 0)
        if not due.any():
            return
        amount = np.minimum(self.due_amount, billable)
        interest = np.minimum(self.due_interest, amount)
        fee = np.minimum(self.due_fee, amount - interest)
        behind = due & (self.missed > 0)
        self.missed[behind] += 1
        self.arrears[behind] += amount[behind]
        self.arrears_interest[behind] += interest[behind]
        self.arrears_fee[behind] += fee[behind]
        self.tally.arrears_added[behind] += amount[behind]
        idx = np.flatnonzero(due & (self.missed == 0))
        if idx.size == 0:
            return
        c = self.cust[idx]
        world = DEFAULT_PARAMETERS
        shift = np.where(self.is_card[idx], 0.0, world.loan_propensity_shift)
        draw = np.clip(u[U_DUE, idx].astype(np.float64), 1e-9, 1 - 1e-9)
        latent = (
            world.ability_weight * self.ability_effective[c]
            + world.willingness_weight
            * (self.willingness[c] + self.behaviour.payment.goodwill_weight * self.goodwill[c])
            + shift
            + self.behaviour.salience.before_due_effect * self.courtesy[idx]
            + np.log(draw / (1.0 - draw))
        )
        outcome = ordered_category(latent, outcome_cutpoints(world)[0])
        pays = outcome == Outcome.FULL_OR_CURE
        self._pay(today, idx[pays], amount[idx[pays]], count=False)
        missing = idx[~pays]
        decided = outcome[~pays]
        part = np.where(
            decided == Outcome.PARTIAL,
            np.floor(amount[missing] * self._share(u[U_DUE_SHARE, missing])).astype(np.int64),
            0,
        )
        self.missed[missing] = 1
        self.arrears[missing] = amount[missing] - part
        # What part of a due pays goes to its fee and interest first.
        paid_fee = np.minimum(fee[missing], part)
        paid_interest = np.minimum(interest[missing], part - paid_fee)
        self.arrears_fee[missing] = fee[missing] - paid_fee
        self.arrears_interest[missing] = interest[missing] - paid_interest
        self.tally.arrears_added[missing] += amount[missing] - part
        self.oldest_due[missing] = today
        self.forgetful[missing] = (decided == Outcome.LATE_OR_KEEP_PACE) & (
            u[U_PART, missing] < self.behaviour.payment.forgetful_share_of_late
        )
        self._pay(today, missing[part > 0], part[part > 0], count=False)

    def _share(self, draw: np.ndarray) -> np.ndarray:
        low, high = self.behaviour.payment.partial_share_range
        return np.asarray(low + (high - low) * draw)

    def _deliver(self, today: int, plan: pa.Table | None) -> Delivery | None:
        """The plan's rows for today reach (or miss) the customers."""
        if plan is None or plan.num_rows == 0:
            return None
        rows = plan.filter(
            pc.and_(
                pc.equal(plan.column("status"), "planned"),
                pc.equal(plan.column("contact_date"), pa.scalar(as_date(today), pa.date32())),
            )
        )
        if rows.num_rows == 0:
            return None
        idx = np.asarray(pc.index_in(rows.column("account_id"), value_set=self.account_ids))
        channel = np.asarray(pc.index_in(rows.column("channel"), value_set=pa.array(CHANNELS)))
        tone = np.asarray(
            pc.fill_null(pc.index_in(rows.column("tone"), value_set=pa.array(TONES)), 1)
        )
        offers = np.asarray(
            pc.fill_null(pc.match_substring(rows.column("template"), "offer_solution"), False)
        ).astype(bool)
        c = self.cust[idx]
        b = self.behaviour
        # Per account and channel: the same account and channel get the same luck under every
        # strategy.
        uc = self.uniforms(today, 2 * len(CHANNELS), 2)
        u_reach = uc[channel * 2 + U_REACH, idx]
        u_right = uc[channel * 2 + U_RIGHT, idx]
        connect_p = sigmoid(
            b.reach.call_connect_intercept
            + b.reach.call_connect_willingness * (self.willingness[c] + self.goodwill[c])
            + b.reach.call_connect_per_recent_call * self.call_ring.sum(axis=0)[idx]
        )
        reach_p = np.select(
            [channel == CH["sms"], channel == CH["email"], channel == CH["letter"],
             channel == CH["call"], channel == CH["visit"]],
            [b.reach.sms_delivered, b.reach.email_opened, b.reach.letter_read,
             connect_p, b.reach.visit_met],
            default=1.0,
        )  # fmt: skip
        reached = u_reach < reach_p
        is_work = np.isin(channel, WORK_CHANNELS)
        right_share = np.where(
            channel == CH["visit"], b.reach.visit_right_party, b.reach.call_right_party
        )
        right = reached & is_work & (u_right < right_share)
        salience = np.array([b.salience.per_channel.get(ch) for ch in CHANNELS])[channel]
        press = reached * (
            np.array([b.pressure.channel.get(ch) for ch in CHANNELS])[channel]
            * np.array([b.pressure.tone.get(t) for t in TONES])[tone]
        )
        counts = reached & (~is_work | right)
        np.add.at(self.salience, idx[counts], salience[counts].astype(np.float32))
        # Reminders to customers who are still current (early-warning care) keep their own
        # salience, which the coming due's decision reads (the arrears salience is reset daily).
        ahead = counts & (self.missed[idx] == 0)
        np.add.at(self.courtesy, idx[ahead], salience[ahead].astype(np.float32))
        np.add.at(self.pressure, idx, press.astype(np.float32))
        pressed = np.zeros(self.n, dtype=np.float32)
        np.add.at(pressed, idx, press.astype(np.float32))
        reached_any = np.zeros(self.n, dtype=bool)
        np.logical_or.at(reached_any, idx, reached)
        t = self.tally
        np.add.at(t.attempts, (channel, idx), 1)
        np.add.at(t.reached, (channel, idx), reached.astype(np.int32))
        np.add.at(t.connected, idx, (reached & is_work).astype(np.int32))
        np.add.at(t.right_party, idx, right.astype(np.int32))
        t.contacted[idx] = True
        np.add.at(self.call_ring[today % 7], idx, is_work.astype(np.int16))
        # Goodwill: helpful conversations raise it; harshness lowers it among willing customers
        # and among those in hardship, who cannot pay whatever is said.
        willing = self.willingness[c] > 0
        in_hardship = self.shock[c] > 0
        change = (
            -b.goodwill.harsh_loss_per_pressure * press * willing
            - b.hardship.pressure_goodwill_loss * press * in_hardship
            + b.goodwill.helpful_gain * (right & offers)
        )
        np.add.at(self.goodwill, c, change.astype(np.float32))
        # A delivered legal action (the default strategy's legal.referral_notice: a lawyer's
        # letter announcing referral) starts the legal process, which presses on by itself while
        # the strategy goes on. No hold is placed: stopping collection for litigation is the
        # bank's decision (its holds file), not the simulator's.
        self.litigation[idx[reached & (channel == CH["legal"])]] = True
        # One conversation per account a day: the firmest right-party contact stands for it.
        order = np.argsort(np.where(right, tone, -1), kind="stable")
        talk_rows = order[right[order]]
        conversation = np.full(self.n, -1, dtype=np.int8)
        conversation[idx[talk_rows]] = tone[talk_rows]
        offered = np.zeros(self.n, dtype=bool)
        np.logical_or.at(offered, idx[talk_rows], offers[talk_rows])
        return Delivery(
            rows.column("account_id"), rows.column("channel"), idx, channel, reached, right,
            is_work, reached_any, conversation, offered, pressed,
        )  # fmt: skip

    def _conversations(
        self, today: int, u: np.ndarray, delivery: Delivery | None, paid_today: np.ndarray
    ) -> np.ndarray:
        """Right-party calls and visits: pay now, promise, refuse, dispute, or ask for 缓催.
        Returns each account's conversation outcome (-1: none today)."""
        outcome_of = np.full(self.n, -1, dtype=np.int8)
        if delivery is None:
            return outcome_of
        talked = np.flatnonzero(delivery.conversation >= 0)
        if talked.size == 0:
            return outcome_of
        b = self.behaviour.conversation
        c = self.cust[talked]
        will = self.willingness[c] + self.goodwill[c]
        able = self.ability_effective[c]
        offered = delivery.offered[talked]
        firm = delivery.conversation[talked] == TONE["firm"]
        pushed = (
            firm * b.firm_tone_able_unwilling_boost * sigmoid(2.0 * able) * sigmoid(-2.0 * will)
        )
        utilities = np.stack(
            [
                np.zeros(talked.size),
                b.pay_now_logit + b.willingness_weight * will + b.ability_weight * able + pushed,
                b.promise_logit
                + b.willingness_weight * will
                + 0.5 * b.ability_weight * able
                + b.solution_offer_promise_boost * offered
                + pushed,
                b.refusal_logit - b.willingness_weight * will + b.firm_tone_refusal_boost * firm,
                np.full(talked.size, b.dispute_logit),
            ]
        )
        draws = np.clip(self.uniforms(today, CONVERSATION_CHOICES, 3)[:, talked], 1e-7, 1 - 1e-7)
        outcome = np.argmax(utilities - np.log(-np.log(draws)), axis=0).astype(np.int8)
        # Customers in hardship may ask for a pause instead: more often when one is offered.
        h = self.behaviour.hardship
        in_hardship = (self.shock[c] > 0) & (self.pause_until[talked] < today)
        asks = in_hardship & (
            u[U_ASK, talked] < np.where(offered, h.ask_when_offered, h.ask_when_contacted)
        )
        self._apply_for_pause(today, talked[asks], u)
        outcome = np.where(asks, NOTHING, outcome).astype(np.int8)
        outcome_of[talked] = outcome
        payers = talked[outcome == PAY_NOW]
        amount = self._payment_amount(payers, u)
        self._pay(today, payers, amount, source=CONVERSATION)
        paid_today[payers] += amount
        promisers = talked[(outcome == PROMISE) & (self.promise_day[talked] < today)]
        self.promise_day[promisers] = today + b.promise_days
        self.promise_amount[promisers] = self._payment_amount(promisers, u)
        self.tally.promises[promisers] += 1
        self._add_holds(
            promisers, "arrangement", today + 1, today + b.promise_days, "promise to pay"
        )
        disputes = talked[outcome == DISPUTE]
        self._add_holds(disputes, "dispute", today + 1, today + 30, "disputed in a conversation")
        return outcome_of

    def _record_contacts(self, today: int, delivery: Delivery | None, talk: np.ndarray) -> None:
        """Today's attempts join the contact history the guard reads (cadence, caps)."""
        if delivery is None:
            return
        count = delivery.idx.size
        codes = talk[delivery.idx].astype(np.int64)
        said = np.select(
            [codes == PAY_NOW, codes == PROMISE, codes == REFUSAL, codes == DISPUTE],
            [1, 2, 3, 4],
            default=_RIGHT_PARTY,
        )
        outcome = np.where(
            delivery.is_work,
            np.where(delivery.right, said, np.where(delivery.reached, _OTHER, 0)),
            np.where(delivery.reached, _DELIVERED, _OTHER),
        )
        serial = pa.array(np.arange(self.contact_serial, self.contact_serial + count))
        self.contact_serial += count
        table = pa.table(
            {
                "contact_id": pc.binary_join_element_wise(
                    f"SIM{self.seed}-", pc.cast(serial, pa.string()), ""
                ),
                "account_id": delivery.account_ids,
                "contacted_at": pa.array(
                    np.full(count, _utc_time(today, 3)), type=pa.timestamp("us", tz="UTC")
                ),
                "channel": delivery.channels,
                "connected": pa.array(delivery.reached & delivery.is_work),
                "right_party": pa.array(delivery.right),
                "outcome": pa.array(CONTACT_OUTCOMES[outcome]),
                "agent_id": pa.nulls(count, pa.string()),
            }
        )
        self.contacts.append(table)

    def _apply_for_pause(self, today: int, accounts: np.ndarray, u: np.ndarray) -> None:
        h = self.behaviour.hardship
        approved = accounts[u[U_APPROVE, accounts] < h.approval_share]
        if approved.size == 0:
            return
        self.pause_until[approved] = today + h.pause_days
        t = self.tally
        t.pauses[approved] += 1
        t.pause_end[approved] = today + h.pause_days
        np.add.at(self.goodwill, self.cust[approved], np.float32(h.pause_goodwill_gain))
        self._add_holds(approved, "hardship", today + 1, today + h.pause_days, "缓催 pause")

    def _add_holds(
        self, accounts: np.ndarray, kind: str, first: int, last: int, reason: str
    ) -> None:
        if accounts.size == 0:
            return
        count = accounts.size
        ids = pc.binary_join_element_wise(
            f"sim-{kind}-{first}-", pc.cast(pa.array(accounts), pa.string()), ""
        )
        self.holds.append(
            pa.table(
                {
                    "hold_id": ids,
                    "account_id": self.account_ids.take(pa.array(accounts)),
                    "hold_type": pa.array([kind] * count),
                    "channel": pa.nulls(count, pa.string()),
                    "start_date": pa.array([as_date(first)] * count, pa.date32()),
                    "end_date": pa.array(
                        [None if last is None else as_date(last)] * count, pa.date32()
                    ),
                    "reason": pa.array([reason] * count),
                }
            )
        )

    def _promises_due(self, today: int, u: np.ndarray, paid_today: np.ndarray) -> None:
        due = np.flatnonzero(self.promise_day == today)
        if due.size == 0:
            return
        b = self.behaviour.conversation
        c = self.cust[due]
        keep_p = sigmoid(
            b.promise_keep_intercept
            + b.promise_keep_ability * self.ability_effective[c]
            + b.promise_keep_willingness * (self.willingness[c] + self.goodwill[c])
        )
        keeps = u[U_PROMISE_KEEP, due] < keep_p
        kept = due[keeps & (self.arrears[due] > 0)]
        amount = np.minimum(self.promise_amount[kept], self.arrears[kept])
        self._pay(today, kept, amount, source=PROMISE_KEPT)
        paid_today[kept] += amount
        self.tally.promises_kept[kept] += 1
        self.tally.promises_broken[due[~keeps]] += 1
        self.promise_day[due] = NO_DAY

    def _hardship_self_service(self, today: int, u: np.ndarray) -> None:
        """Customers in hardship may apply on the portal unprompted, whatever the strategy."""
        asks = (
            (self.shock[self.cust] > 0)
            & (self.missed > 0)
            & (self.pause_until < today)
            & (self.status == OPEN)
            & (u[U_ASK] < self.behaviour.hardship.ask_self_service_daily)
        )
        self._apply_for_pause(today, np.flatnonzero(asks), u)

    def _payment_amount(self, accounts: np.ndarray, u: np.ndarray) -> np.ndarray:
        """What a paying customer pays: all arrears, one due, or part of one."""
        p = self.behaviour.payment
        a_eff = self.ability_effective[self.cust[accounts]]
        cure = u[U_AMOUNT, accounts] < sigmoid(p.cure_logit + p.cure_ability_weight * a_eff)
        one = u[U_PART, accounts] < p.one_due_share
        part = np.floor(self.due_amount[accounts] * self._share(u[U_DUE_SHARE, accounts]))
        amount = np.where(
            cure, self.arrears[accounts], np.where(one, self.due_amount[accounts], part)
        )
        return np.asarray(np.minimum(np.maximum(amount, 0), self.arrears[accounts]), dtype=np.int64)

    def _daily_payments(self, today: int, u: np.ndarray, paid_today: np.ndarray) -> None:
        """Customers in arrears pay on their own, nudged by reminders and pressure."""
        p = self.behaviour.payment
        candidates = np.flatnonzero(
            (self.arrears > 0) & (self.status == OPEN) & (paid_today == 0) & (self.missed > 0)
        )
        c = self.cust[candidates]
        a_eff = self.ability_effective[c]
        able = sigmoid(2.0 * a_eff)
        unwilling = sigmoid(-2.0 * (self.willingness[c] + self.goodwill[c]))
        base = np.asarray(p.base_logit_by_missed_dues)
        k = np.minimum(self.missed[candidates], base.size) - 1
        floor = self.behaviour.pressure.litigation_floor * self.litigation[candidates]
        pressure = np.minimum(np.maximum(self.pressure[candidates], floor), p.pressure_saturation)
        pressure = np.where(self.pause_until[candidates] >= today, 0.0, pressure)
        logit = (
            base[k]
            + p.ability_weight * a_eff
            + p.willingness_weight * self.willingness[c]
            + p.goodwill_weight * self.goodwill[c]
            + p.reminder_effect * self.salience[candidates] * able
            + pressure
            * able
            * (
                unwilling * p.pressure_effect_unwilling
                + (1 - unwilling) * p.pressure_effect_willing
            )
            + p.forgetful_boost * self.forgetful[candidates]
        )
        payers = candidates[u[U_PAY, candidates] < sigmoid(logit)]
        amount = self._payment_amount(payers, u)
        self._pay(today, payers, amount)
        paid_today[payers] += amount
        # Charged-off accounts: occasional recoveries.
        gone = np.flatnonzero((self.status == CHARGED_OFF) & (self.arrears > 0))
        back = gone[u[U_RECOVERY, gone] < p.charged_off_daily_recovery]
        amount = np.floor(self.arrears[back] * self._share(u[U_DUE_SHARE, back])).astype(np.int64)
        self._pay(today, back, amount, source=RECOVERY)
        paid_today[back] += amount

    def _pay(
        self,
        today: int,
        accounts: np.ndarray,
        amount: np.ndarray,
        *,
        count: bool = True,
        source: int = OWN,
    ) -> None:
        """Apply payments: the balance fees first, then interest, then principal; when `count`,
        also the arrears, oldest due first (a payment of a due that fell today is not arrears)."""
        if accounts.size == 0:
            return
        amount = amount.astype(np.int64)
        self.balance[accounts] = np.maximum(self.balance[accounts] - amount, 0)
        to_fees = np.minimum(self.fees[accounts], amount)
        self.fees[accounts] -= to_fees
        to_interest = np.minimum(self.interest[accounts], amount - to_fees)
        self.interest[accounts] -= to_interest
        self.principal[accounts] = np.maximum(
            self.principal[accounts] - (amount - to_fees - to_interest), 0
        )
        self.last_paid[accounts] = today
        np.add.at(self.paid_ring[today % 30], accounts, amount)
        if not count:
            return
        was_late = self.days_past_due(today)[accounts] > 0
        applied = np.minimum(amount, np.maximum(self.arrears[accounts], 0))
        self.arrears[accounts] -= applied
        # The policy's allocation order: fee, then interest, then principal.
        on_fee = np.minimum(self.arrears_fee[accounts], applied)
        self.arrears_fee[accounts] -= on_fee
        on_interest = np.minimum(self.arrears_interest[accounts], applied - on_fee)
        self.arrears_interest[accounts] -= on_interest
        self.tally.collected[accounts] += applied
        self.tally.by_source[source] += int(applied.sum())
        done = self.arrears[accounts] <= TOLERANCE_FEN
        still = accounts[~done]
        # Dues paid off, oldest first: the oldest unpaid due moves on by whole months.
        owed = np.ceil(self.arrears[still] / np.maximum(self.due_amount[still], 1)).astype(np.int64)
        left = np.clip(owed, 1, np.maximum(self.missed[still], 1))
        oldest = self.oldest_due[still].astype("datetime64[D]")
        month = oldest.astype("datetime64[M]")
        moved = (month + (self.missed[still] - left)).astype("datetime64[D]") + (
            oldest - month.astype("datetime64[D]")
        )
        self.oldest_due[still] = moved.astype(np.int64)
        self.missed[still] = left
        cleared = accounts[done]
        cured = accounts[done & was_late]
        self.tally.cured[cured] += 1
        self.tally.written_off[cleared] += self.arrears[cleared]
        self.arrears[cleared] = 0
        self.arrears_interest[cleared] = 0
        self.arrears_fee[cleared] = 0
        self.missed[cleared] = 0
        self.oldest_due[cleared] = NO_DAY
        self.forgetful[cleared] = False

    def _complaints_and_leaving(self, today: int, u: np.ndarray, delivery: Delivery | None) -> int:
        """Complaints about today's contacts, and customers who decide to leave."""
        b = self.behaviour.complaints
        c = self.cust
        complains = np.zeros(self.n, dtype=bool)
        if delivery is not None:
            base = np.zeros(self.n)
            per = np.array([b.per_attempt.get(ch) for ch in CHANNELS])[delivery.channel]
            np.maximum.at(base, delivery.idx, per * delivery.reached)
            pressed = delivery.pressed
            tone = np.where(
                pressed >= 1.0,
                b.tone_factor.firm,
                np.where(pressed > 0.3, b.tone_factor.neutral, b.tone_factor.gentle),
            )
            week = self.call_ring.sum(axis=0)
            intensity = b.intensity_factor ** np.maximum(week - b.free_attempts_per_week, 0)
            chance = (
                base
                * tone
                * intensity
                * np.where(self.good[c] & (pressed >= 1.0), b.good_customer_factor, 1.0)
                * np.where((self.shock[c] > 0) & (pressed > 0), b.hardship_factor, 1.0)
            )
            complains = delivery.reached_any & (u[U_COMPLAIN] < chance)
            self.tally.complaints[complains] += 1
            np.add.at(self.goodwill, c[complains], np.float32(-b.goodwill_loss))
        # Leaving: per customer, driven by lost goodwill and a complaint today.
        a = self.behaviour.attrition
        complained = np.zeros(self.ability.shape[0], dtype=bool)
        complained[c[complains]] = True
        logit = (
            a.daily_logit_intercept
            + a.goodwill_weight * np.maximum(-self.goodwill, 0)
            + a.complaint_boost * complained
        )
        draw = self.uniforms(today, 1, 4)[0][self.first_account]
        leaves = ~self.attrited & (draw < sigmoid(logit))
        self.attrited |= leaves
        return int(complains.sum())

    def _surveys(self, u: np.ndarray, delivery: Delivery | None, talk: np.ndarray) -> None:
        """Satisfaction surveys after right-party conversations and delivered SMS."""
        if delivery is None:
            return
        s = self.behaviour.satisfaction
        talked = talk >= 0
        share = np.where(
            talked,
            s.survey_share_after_conversation,
            np.where(delivery.reached_any, s.survey_share_after_sms, 0.0),
        )
        asked = np.flatnonzero(u[U_SURVEY] < share)
        if asked.size == 0:
            return
        said = talk[asked]
        pressure = self.pressure[asked]
        c = self.cust[asked]
        said_shift = np.select(
            [said == PAY_NOW, said == PROMISE, said == REFUSAL, said == DISPUTE],
            [s.outcome_shift_paid, s.outcome_shift_promise, s.outcome_shift_refusal,
             s.outcome_shift_dispute],
            default=0.0,
        )  # fmt: skip
        tone_shift = np.where(
            pressure >= 1.0,
            s.tone_shift.firm,
            np.where(pressure > 0.3, s.tone_shift.neutral, s.tone_shift.gentle),
        )
        latent = (
            said_shift
            + tone_shift
            + s.goodwill_weight * self.goodwill[c]
            + s.pause_shift * (self.pause_until[asked] >= self.day)
            + s.hardship_pressed_shift * ((self.shock[c] > 0) & (delivery.pressed[asked] > 0))
        )
        draw = np.clip(u[U_SCORE, asked].astype(np.float64), 1e-6, 1 - 1e-6)
        cuts = logit_cutpoints(np.asarray(s.score_probabilities))
        score = ordered_category(latent + np.log(draw / (1 - draw)), cuts) + 1
        t = self.tally
        t.surveys[asked] += 1
        t.survey_score_sum[asked] += score
        t.survey_satisfied[asked] += score >= 4

    def _charge_off(self, today: int) -> None:
        dpd = self.days_past_due(today)
        limit = np.where(
            self.is_card,
            self.policy.charge_off_dpd["credit_card"],
            self.policy.charge_off_dpd["instalment_loan"],
        )
        hit = (self.status == OPEN) & (dpd >= limit)
        self.status[hit] = CHARGED_OFF
        self.charge_off_day[hit] = today
        self.tally.charged_off_in_window[hit] = True

    def _end_of_day(self, today: int) -> None:
        dpd = self.days_past_due(today)
        delinquent = dpd > 0
        entering = delinquent & ~self.was_delinquent
        self.delinquent_since[entering] = today
        self.cycles[entering] += 1
        self.was_delinquent = delinquent
        t = self.tally
        t.ever_delinquent |= delinquent
        t.early_delinquent |= delinquent & (dpd < 30)
        t.reached_30 |= t.early_delinquent & (dpd >= 30)
        self.salience[~delinquent] = 0.0


@dataclass(frozen=True)
class Delivery:
    """Today's planned contacts: per row (account, channel, reached, right party) and per account
    (reached at all, the conversation's tone code or -1, a solution offered, pressure added)."""

    account_ids: pa.ChunkedArray
    channels: pa.ChunkedArray
    idx: np.ndarray
    channel: np.ndarray
    reached: np.ndarray
    right: np.ndarray
    is_work: np.ndarray
    reached_any: np.ndarray
    conversation: np.ndarray
    offered: np.ndarray
    pressed: np.ndarray


def _utc_time(day: int, hour: int) -> np.datetime64:
    return np.datetime64(as_date(day).isoformat(), "us") + np.timedelta64(hour, "h")


# --- building the starting world -----------------------------------------------------------


def load_world(
    *,
    snapshot: Path,
    truth: Path,
    as_of: date,
    behaviour: Behaviour,
    policy: DelinquencyPolicy,
    seed: int,
) -> World:
    """The world on `as_of`: the snapshot's accounts and dues, the truth's traits and events."""
    accounts = pq.read_table(snapshot / "accounts.parquet").sort_by("account_id")
    n = accounts.num_rows
    con = duckdb.connect()
    try:
        con.register("accounts", accounts.select(["account_id", "customer_id"]))
        dues = con.sql(
            f"""
            WITH d AS (
              SELECT account_id, due_date, principal_due + interest_due + fee_due AS amount,
                     interest_due, fee_due,
                     row_number() OVER (PARTITION BY account_id
                                        ORDER BY due_date DESC) AS k
              FROM read_parquet({lit(str(snapshot / "dues.parquet"))})
              WHERE due_date <= DATE '{as_of.isoformat()}' + INTERVAL 31 DAY
            )
            SELECT a.account_id, coalesce(d.amount, 0) AS amount,
                   coalesce(d.interest_due, 0) AS interest, coalesce(d.fee_due, 0) AS fee,
                   coalesce(least(day(d.due_date), 28), 28) AS dom
            FROM accounts a LEFT JOIN d ON d.account_id = a.account_id AND d.k = 1
            ORDER BY a.account_id
            """
        ).to_arrow_table()
        # Payments of the last 30 days fill the ring that gives paid_30d_fen.
        recent = con.sql(
            f"""
            SELECT a.rn - 1 AS idx, date_diff('day', DATE '1970-01-01', p.paid_date) % 30 AS slot,
                   sum(p.amount) AS amount
            FROM (SELECT account_id, row_number() OVER (ORDER BY account_id) AS rn
                  FROM accounts) a
            JOIN read_parquet({lit(str(snapshot / "payments.parquet"))}) p USING (account_id)
            WHERE p.paid_date > DATE '{as_of.isoformat()}' - 30
              AND p.paid_date <= DATE '{as_of.isoformat()}'
            GROUP BY ALL
            """
        ).to_arrow_table()
        customers = con.sql(
            f"""
            SELECT customer_id, ability, willingness
            FROM read_parquet({lit(str(truth / "customers.parquet"))}) ORDER BY customer_id
            """
        ).to_arrow_table()
        events = con.sql(
            f"""
            SELECT customer_id, event_type,
                   date_diff('day', DATE '{as_of.isoformat()}',
                             CAST(start_month_date + to_months(duration_months) AS DATE)) AS left_days
            FROM read_parquet({lit(str(truth / "life_events.parquet"))})
            WHERE start_month_date <= DATE '{as_of.isoformat()}'
              AND CAST(start_month_date + to_months(duration_months) AS DATE)
                  > DATE '{as_of.isoformat()}'
            """
        ).to_arrow_table()
    finally:
        con.close()
    customer_ids = customers.column("customer_id")
    cust = np.asarray(pc.index_in(accounts.column("customer_id"), value_set=customer_ids))
    if (cust < 0).any() if cust.size else False:
        raise ValueError(f"{truth}: the truth lacks customers of the snapshot")
    ability = customers.column("ability").to_numpy().astype(np.float32)
    willingness = customers.column("willingness").to_numpy().astype(np.float32)
    shock = np.zeros(ability.shape[0], dtype=np.float32)
    left = np.zeros(ability.shape[0], dtype=np.int32)
    shocks = {k.name: k.ability_shock for k in DEFAULT_PARAMETERS.life_events}
    if events.num_rows:
        who = np.asarray(pc.index_in(events.column("customer_id"), value_set=customer_ids))
        size = np.array([shocks.get(t, 0.0) for t in events.column("event_type").to_pylist()])
        np.maximum.at(shock, who, size.astype(np.float32))
        np.maximum.at(left, who, events.column("left_days").to_numpy().astype(np.int32))

    def col(name: str) -> np.ndarray:
        return np.asarray(accounts.column(name).to_numpy(zero_copy_only=False))

    status_code = pc.index_in(accounts.column("status"), value_set=pa.array(STATUS.tolist()))
    status = np.asarray(pc.fill_null(status_code, OPEN)).astype(np.int8)
    status[col("charged_off").astype(bool)] = CHARGED_OFF
    ring = np.zeros((30, n), dtype=np.int64)
    if recent.num_rows:
        np.add.at(
            ring,
            (recent.column("slot").to_numpy(), recent.column("idx").to_numpy()),
            recent.column("amount").to_numpy().astype(np.int64),
        )
    start = day_number(as_date(day_number(as_of)))
    oldest = _day_numbers(accounts.column("oldest_unpaid_due_date"))
    arrears = col("arrears_fen").astype(np.int64)
    missed = col("missed_dues").astype(np.int64)
    good = (ability + willingness) > behaviour.attrition.value_threshold
    first_account = np.zeros(ability.shape[0], dtype=np.int64)
    first_account[cust[::-1]] = np.arange(n)[::-1]
    world = World(
        behaviour=behaviour,
        policy=policy,
        seed=seed,
        start=start,
        day=start,
        static=accounts,
        account_ids=accounts.column("account_id").combine_chunks(),
        cust=cust.astype(np.int64),
        is_card=np.asarray(col("product") == "credit_card"),
        due_dom=dues.column("dom").to_numpy().astype(np.int8),
        due_amount=dues.column("amount").to_numpy().astype(np.int64),
        arrears=arrears,
        arrears_interest=col("arrears_interest_fen").astype(np.int64),
        arrears_fee=col("arrears_fee_fen").astype(np.int64),
        due_interest=dues.column("interest").to_numpy().astype(np.int64),
        due_fee=dues.column("fee").to_numpy().astype(np.int64),
        bank_status=accounts.column("status").combine_chunks(),
        missed=missed,
        oldest_due=oldest,
        delinquent_since=_day_numbers(accounts.column("delinquent_since")),
        cycles=col("cycles_delinquent").astype(np.int64),
        last_paid=_day_numbers(accounts.column("last_payment_date")),
        balance=col("balance_fen").astype(np.int64),
        principal=col("principal_fen").astype(np.int64),
        interest=col("interest_fen").astype(np.int64),
        fees=col("fees_fen").astype(np.int64),
        status=status,
        charge_off_day=_day_numbers(accounts.column("charge_off_date")),
        paid_ring=ring,
        forgetful=np.zeros(n, dtype=bool),
        promise_day=np.full(n, NO_DAY, dtype=np.int64),
        promise_amount=np.zeros(n, dtype=np.int64),
        pause_until=np.full(n, NO_DAY, dtype=np.int64),
        litigation=np.zeros(n, dtype=bool),
        salience=np.zeros(n, dtype=np.float32),
        courtesy=np.zeros(n, dtype=np.float32),
        pressure=np.zeros(n, dtype=np.float32),
        call_ring=np.zeros((7, n), dtype=np.int16),
        ability=ability,
        willingness=willingness,
        shock=shock,
        event_left=left,
        goodwill=np.zeros(ability.shape[0], dtype=np.float32),
        attrited=np.zeros(ability.shape[0], dtype=bool),
        good=good,
        first_account=first_account,
        tally=Tally.empty(n, arrears),
        was_delinquent=np.zeros(n, dtype=bool),
    )
    world.was_delinquent = world.days_past_due() > 0
    world.tally.start_open = status == OPEN
    world.tally.start_delinquent = world.was_delinquent & (status == OPEN)
    world.tally.ever_delinquent |= world.was_delinquent
    dpd0 = world.days_past_due()
    world.tally.early_delinquent |= (dpd0 > 0) & (dpd0 < 30)
    contacts = snapshot / "contacts.parquet"
    if contacts.exists():
        # The history's own columns (an imported snapshot's file also names each owner).
        world.contacts.append(pq.read_table(contacts, columns=CONTACTS_SCHEMA.names))
    return world
