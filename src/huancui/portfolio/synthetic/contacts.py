"""The contact history left by the bank's previous system: SMS reminders and calls on accounts
that were past due during the last `contact_lookback_days` days before the as-of date.

Contact happens in the customer's local daytime (08:00–21:00; Xinjiang customers on Urumqi time
are two hours behind Beijing), never while a hold stops it, and only on channels consented to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from huancui.portfolio.contract import CONTACTS
from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.accounts import AccountBook, Calendar
from huancui.portfolio.synthetic.history import NO_DAY, History
from huancui.portfolio.synthetic.holds import ContactBlocks
from huancui.portfolio.synthetic.parameters import WorldParameters

CHANNELS = CONTACTS.column("channel").values
OUTCOMES = CONTACTS.column("outcome").values
_SMS, _CALL = CHANNELS.index("sms"), CHANNELS.index("call")
_URUMQI_LAG_MINUTES = 120  # local 08:00 in Urumqi is 10:00 at +08:00


@dataclass(frozen=True)
class Reach:
    """Per account: whom we may contact, how, and what they are like on the phone."""

    consent_sms: np.ndarray
    consent_call: np.ndarray
    urumqi_time: np.ndarray
    willingness: np.ndarray
    in_hardship: np.ndarray


@dataclass(frozen=True)
class Contacts:
    account: np.ndarray
    day: np.ndarray
    minute: np.ndarray  # minutes after midnight at +08:00
    channel: np.ndarray
    connected: np.ndarray
    right_party: np.ndarray
    outcome: np.ndarray
    agent: np.ndarray  # -1 for automated SMS
    days_past_due: np.ndarray  # the account's days past due on the day of the contact


@dataclass(frozen=True)
class _Track:
    """The history columns the day-by-day replay needs, for the accounts worth replaying."""

    due: np.ndarray
    oldest_at_due: np.ndarray
    oldest_after: np.ndarray
    late_day: np.ndarray
    on_time_day: np.ndarray

    @staticmethod
    def of(history: History, *, book: AccountBook, months: int, rows: np.ndarray) -> _Track:
        return _Track(
            due=book.due_day[rows, :months],
            oldest_at_due=history.oldest_at_due[rows],
            oldest_after=history.oldest_after[rows],
            late_day=history.late_day[rows],
            on_time_day=history.on_time_day[rows],
        )


def days_past_due_on(day: int, *, track: _Track) -> np.ndarray:
    """Days past due on a day inside the history window, replaying the month's payments."""
    months = track.due.shape[1]
    step = (track.due < day).sum(axis=1) - 1
    known = step >= 0
    step = np.maximum(step, 0)

    def at(matrix: np.ndarray, column: np.ndarray) -> np.ndarray:
        return np.take_along_axis(matrix, column[:, None], axis=1)[:, 0]

    oldest = at(track.oldest_at_due, step)
    late = at(track.late_day, step)
    oldest = np.where((late != NO_DAY) & (late <= day), at(track.oldest_after, step), oldest)
    # A payment made before the next due date already counts on the day it arrives.
    following = np.minimum(step + 1, months - 1)
    early = np.where(step + 1 < months, at(track.on_time_day, following), NO_DAY)
    oldest = np.where(
        (early != NO_DAY) & (early <= day), at(track.oldest_at_due, following), oldest
    )
    result: np.ndarray = np.where(known & (oldest != NO_DAY) & (oldest < day), day - oldest, 0)
    return result


def draw_contacts(
    rng: np.random.Generator,
    *,
    history: History,
    book: AccountBook,
    calendar: Calendar,
    reach: Reach,
    blocks: ContactBlocks,
    params: WorldParameters,
) -> Contacts:
    months = calendar.months
    recent = history.oldest_at_due[:, max(0, months - 4) :]
    rows = np.flatnonzero((recent != NO_DAY).any(axis=1))
    sms_days = np.array(params.sms_on_days_past_due)
    track = _Track.of(history, book=book, months=months, rows=rows)
    charge_off_day = np.where(
        history.charge_off_day[rows] == NO_DAY, 10**9, history.charge_off_day[rows]
    )
    found: list[tuple[np.ndarray, int, int, np.ndarray]] = []
    for day in range(calendar.as_of_day - params.contact_lookback_days, calendar.as_of_day):
        dpd = days_past_due_on(day, track=track)
        free = (charge_off_day > day) & ~_held(blocks.all_start, blocks.all_end, rows=rows, day=day)
        sms = (
            free
            & np.isin(dpd, sms_days)
            & reach.consent_sms[rows]
            & ~_held(blocks.sms_start, blocks.sms_end, rows=rows, day=day)
        )
        call = (
            free
            & (dpd >= params.call_from_days_past_due)
            & ((rows + day) % params.call_every_days == 0)
            & reach.consent_call[rows]
            & ~_held(blocks.call_start, blocks.call_end, rows=rows, day=day)
        )
        found += [(rows[sms], day, _SMS, dpd[sms]), (rows[call], day, _CALL, dpd[call])]
    account = np.concatenate([f[0] for f in found]).astype(np.int64)
    day_of = np.concatenate([np.full(f[0].size, f[1]) for f in found]).astype(np.int64)
    channel = np.concatenate([np.full(f[0].size, f[2]) for f in found]).astype(np.int64)
    dpd_of = np.concatenate([f[3] for f in found]).astype(np.int64)
    return _outcomes(
        rng,
        account=account,
        day=day_of,
        channel=channel,
        days_past_due=dpd_of,
        reach=reach,
        params=params,
    )


def _held(start: np.ndarray, end: np.ndarray, *, rows: np.ndarray, day: int) -> np.ndarray:
    return np.asarray((start[rows] <= day) & (day <= end[rows]))


def _outcomes(
    rng: np.random.Generator,
    *,
    account: np.ndarray,
    day: np.ndarray,
    channel: np.ndarray,
    days_past_due: np.ndarray,
    reach: Reach,
    params: WorldParameters,
) -> Contacts:
    n = int(account.shape[0])
    is_call = channel == _CALL
    local = np.where(
        is_call, rng.integers(8 * 60, 21 * 60, size=n), rng.integers(9 * 60, 20 * 60, size=n)
    )
    minute = local + np.where(reach.urumqi_time[account], _URUMQI_LAG_MINUTES, 0)
    answered = is_call & (rng.random(n) < 0.55)
    who = rng.random(n)
    right_party = answered & (who >= 0.20)
    talk = _right_party_outcome(
        rng, willingness=reach.willingness[account], in_hardship=reach.in_hardship[account]
    )
    outcome = np.select(
        [~is_call, ~answered, who < 0.07, who < 0.20],
        [
            np.where(rng.random(n) < 0.97, OUTCOMES.index("delivered"), OUTCOMES.index("failed")),
            OUTCOMES.index("no_answer"),
            OUTCOMES.index("wrong_number"),
            OUTCOMES.index("other"),
        ],
        default=talk,
    )
    order = np.lexsort((minute, day, account))
    agent = np.where(is_call, rng.integers(1, params.agents + 1, size=n), -1)
    return Contacts(
        account[order],
        day[order],
        minute[order],
        channel[order],
        answered[order],
        right_party[order],
        outcome[order],
        agent[order],
        days_past_due[order],
    )


def _right_party_outcome(
    rng: np.random.Generator, *, willingness: np.ndarray, in_hardship: np.ndarray
) -> np.ndarray:
    n = int(willingness.shape[0])
    promise = np.clip(0.35 + 0.10 * willingness, 0.10, 0.60)
    draw = rng.random(n)
    said = np.select(
        [draw < promise, draw < promise + 0.15, draw < promise + 0.17],
        [OUTCOMES.index("promise"), OUTCOMES.index("refusal"), OUTCOMES.index("dispute")],
        default=OUTCOMES.index("right_party"),
    )
    claims_hardship = in_hardship & (rng.random(n) < 0.5)
    return np.where(claims_hardship, OUTCOMES.index("hardship_claim"), said)


def contacts_table(contacts: Contacts, *, account_ids: pa.Array, first_number: int) -> pa.Table:
    n = int(contacts.account.shape[0])
    columns = {
        "contact_id": fmt.prefixed_ids("K", first_number + np.arange(n), width=10),
        "account_id": account_ids.take(pa.array(contacts.account)),
        "contacted_at": fmt.timestamps(contacts.day, minute_of_day=contacts.minute),
        "channel": fmt.labels(CHANNELS, contacts.channel),
        "connected": fmt.booleans(contacts.connected),
        "right_party": fmt.booleans(contacts.right_party),
        "outcome": fmt.labels(OUTCOMES, contacts.outcome),
        "agent_id": _agent_ids(contacts.agent),
    }
    return fmt.contract_table(CONTACTS, columns)


def _agent_ids(agent: np.ndarray) -> pa.Array:
    ids = fmt.prefixed_ids("U", np.maximum(agent, 0), width=4)
    return pc.if_else(pa.array(agent >= 0), ids, pa.scalar(None, pa.string()))
