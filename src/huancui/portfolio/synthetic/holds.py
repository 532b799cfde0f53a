"""Holds the bank's systems already carry: 缓催 hardship pauses, disputes, deceased customers,
do-not-contact requests and single-channel opt-outs.

Hardship holds follow the world: they go to delinquent accounts whose owner is living through a
life event at the as-of date. The other kinds are rare and drawn at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from huancui.portfolio.contract import HOLDS
from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.history import NO_DAY
from huancui.portfolio.synthetic.parameters import WorldParameters

HOLD_TYPES = HOLDS.column("hold_type").values
HOLD_CHANNELS = HOLDS.column("channel").values
_FIXED_REASONS = (
    "客户对账单金额有异议",
    "家属告知客户已身故",
    "客户要求停止催收联系",
    "客户退订催收短信",
    "客户要求不再来电",
)
_DISPUTE, _DECEASED, _DNC, _SMS_OUT, _CALL_OUT = range(5)
NEVER = 10**9  # a day number later than any date in the delivery


@dataclass(frozen=True)
class Holds:
    account: np.ndarray  # block-local account index
    kind: np.ndarray  # index into HOLD_TYPES
    channel: np.ndarray  # index into HOLD_CHANNELS, -1 for every channel
    start_day: np.ndarray
    end_day: np.ndarray  # NO_DAY: open-ended
    reason: np.ndarray  # index into reasons(params)


@dataclass(frozen=True)
class ContactBlocks:
    """Per account, the days on which a hold stops contact on all channels, SMS or calls."""

    all_start: np.ndarray
    all_end: np.ndarray
    sms_start: np.ndarray
    sms_end: np.ndarray
    call_start: np.ndarray
    call_end: np.ndarray


def reasons(params: WorldParameters) -> tuple[str, ...]:
    return tuple(e.hold_reason_zh for e in params.life_events) + _FIXED_REASONS


def draw_holds(
    rng: np.random.Generator,
    *,
    delinquent: np.ndarray,
    hardship_kind: np.ndarray,
    as_of_day: int,
    params: WorldParameters,
) -> Holds:
    """Holds for one block. `hardship_kind` is the owner's running life event per account or -1."""
    n = int(delinquent.shape[0])
    events = len(params.life_events)
    draws = rng.random((5, n))
    opt_out_sms = rng.random(n) < 0.6
    none = np.full(n, -1)
    groups: list[tuple[np.ndarray, str, np.ndarray, np.ndarray, int]] = [
        (
            delinquent & (hardship_kind >= 0) & (draws[0] < params.hardship_hold_share),
            "hardship",
            none,
            np.maximum(hardship_kind, 0),
            params.hardship_hold_days,
        ),
        (
            delinquent & (draws[1] < params.dispute_hold_share),
            "dispute",
            none,
            np.full(n, events + _DISPUTE),
            0,
        ),
        (
            delinquent & (draws[2] < params.deceased_hold_share),
            "deceased",
            none,
            np.full(n, events + _DECEASED),
            0,
        ),
        (
            draws[3] < params.do_not_contact_share,
            "do_not_contact",
            none,
            np.full(n, events + _DNC),
            0,
        ),
        (
            draws[4] < params.channel_opt_out_share,
            "channel_opt_out",
            np.where(opt_out_sms, HOLD_CHANNELS.index("sms"), HOLD_CHANNELS.index("call")),
            np.where(opt_out_sms, events + _SMS_OUT, events + _CALL_OUT),
            0,
        ),
    ]
    parts = []
    for mask, kind, channel, reason, days in groups:
        who = np.flatnonzero(mask)
        start = as_of_day - rng.integers(0, 61 if days else 181, size=who.size)
        parts.append(
            (
                who,
                np.full(who.size, HOLD_TYPES.index(kind)),
                channel[who],
                start,
                start + days - 1 if days else np.full(who.size, NO_DAY),
                reason[who],
            )
        )
    columns = [np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(6)]
    order = np.lexsort((columns[1], columns[0]))
    return Holds(*(c[order] for c in columns))


def contact_blocks(holds: Holds, *, accounts: int) -> ContactBlocks:
    end = np.where(holds.end_day == NO_DAY, NEVER, holds.end_day)
    sms = HOLD_CHANNELS.index("sms")
    call = HOLD_CHANNELS.index("call")
    windows = []
    for selected in (holds.channel == -1, holds.channel == sms, holds.channel == call):
        start_of = np.full(accounts, NEVER, dtype=np.int64)
        end_of = np.full(accounts, -NEVER, dtype=np.int64)
        np.minimum.at(start_of, holds.account[selected], holds.start_day[selected])
        np.maximum.at(end_of, holds.account[selected], end[selected])
        windows += [start_of, end_of]
    return ContactBlocks(*windows)


def holds_table(
    holds: Holds, *, account_ids: pa.Array, first_number: int, params: WorldParameters
) -> pa.Table:
    n = int(holds.account.shape[0])
    columns = {
        "hold_id": fmt.prefixed_ids("H", first_number + np.arange(n), width=8),
        "account_id": account_ids.take(pa.array(holds.account)),
        "hold_type": fmt.labels(HOLD_TYPES, holds.kind),
        "channel": fmt.labels(
            HOLD_CHANNELS, np.maximum(holds.channel, 0), valid=holds.channel >= 0
        ),
        "start_date": fmt.dates(holds.start_day),
        "end_date": fmt.dates(np.maximum(holds.end_day, 0), valid=holds.end_day != NO_DAY),
        "reason": fmt.labels(reasons(params), holds.reason),
    }
    return fmt.contract_table(HOLDS, columns)
