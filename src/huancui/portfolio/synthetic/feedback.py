"""Customer feedback on the collections work: satisfaction surveys after a contact, complaints
about contact, and ratings left on the self-service portal after paying there.

Scores 1..5 come from ordered logits like the payment decision (world.py). Every rate, shift and
share is a stated assumption (parameters.py, docs/world-model.md), not a figure measured at a bank.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

from huancui.portfolio.contract import FEEDBACK
from huancui.portfolio.synthetic import formatting as fmt
from huancui.portfolio.synthetic.contacts import CHANNELS as CONTACT_CHANNELS
from huancui.portfolio.synthetic.contacts import OUTCOMES, Contacts
from huancui.portfolio.synthetic.history import PAYMENT_CHANNELS, History
from huancui.portfolio.synthetic.parameters import WorldParameters
from huancui.portfolio.synthetic.world import logit_cutpoints, ordered_category

KINDS = FEEDBACK.column("kind").values
CHANNELS = FEEDBACK.column("channel").values
CATEGORIES = FEEDBACK.column("category").values
_SURVEY, _COMPLAINT, _PORTAL = (KINDS.index(k) for k in ("survey", "complaint", "portal_rating"))
# A contact's channel (index into the contacts file's codes) as an index into feedback's codes.
_CHANNEL_OF_CONTACT = np.array([CHANNELS.index(c) for c in CONTACT_CHANNELS])
_CONVERSATIONS = np.array([CONTACT_CHANNELS.index("call"), CONTACT_CHANNELS.index("visit")])
_SMS = CONTACT_CHANNELS.index("sms")
_APP = PAYMENT_CHANNELS.index("app")
# What set off a complaint, first match wins; rows of `complaint_categories` in this order.
_THIRD_PARTY, _DISPUTE, _REFUSAL, _INTENSE, _PLAIN = range(5)
_STAGE_CAP_DAYS = 180  # beyond this, the stage makes a survey no worse
_DAY_SPAN = 1 << 20  # more days than any date in a delivery: account * span + day sorts like both
NONE = -1


@dataclass(frozen=True)
class Feedback:
    """One block's feedback, one entry per row; NONE (-1) marks an empty index."""

    account: np.ndarray  # block-local account index
    day: np.ndarray  # day received, days since 1970-01-01
    kind: np.ndarray  # index into KINDS
    score: np.ndarray  # 1..5, 0 for complaints
    channel: np.ndarray  # index into CHANNELS
    category: np.ndarray  # index into CATEGORIES
    contact: np.ndarray  # index into the block's contacts


def draw_feedback(
    rng: np.random.Generator,
    *,
    contacts: Contacts,
    history: History,
    willingness: np.ndarray,
    as_of_day: int,
    params: WorldParameters,
) -> Feedback:
    """Every feedback row of a block, sorted by account and day. `willingness` is per account;
    answers that would arrive after the as-of date have not been received and are left out."""
    parts = [
        _surveys(rng, contacts=contacts, willingness=willingness, params=params),
        _complaints(rng, contacts=contacts, params=params),
        _portal_ratings(rng, history=history, willingness=willingness, params=params),
    ]
    columns = {
        f.name: np.concatenate([getattr(p, f.name) for p in parts]).astype(np.int64)
        for f in fields(Feedback)
    }
    keep = np.flatnonzero(columns["day"] <= as_of_day)
    order = keep[
        np.lexsort(
            (
                columns["contact"][keep],
                columns["kind"][keep],
                columns["day"][keep],
                columns["account"][keep],
            )
        )
    ]
    return Feedback(**{name: column[order] for name, column in columns.items()})


def _surveys(
    rng: np.random.Generator,
    *,
    contacts: Contacts,
    willingness: np.ndarray,
    params: WorldParameters,
) -> Feedback:
    """A survey follows a conversation (not with a wrong number) or, rarely, a delivered SMS."""
    n = int(contacts.account.shape[0])
    conversation = (
        np.isin(contacts.channel, _CONVERSATIONS)
        & contacts.connected
        & (contacts.outcome != OUTCOMES.index("wrong_number"))
    )
    sms = (contacts.channel == _SMS) & (contacts.outcome == OUTCOMES.index("delivered"))
    share = np.where(
        conversation,
        params.survey_share_after_conversation,
        np.where(sms, params.survey_share_after_sms, 0.0),
    )
    asked = np.flatnonzero(rng.random(n) < share)
    stage = np.minimum(contacts.days_past_due[asked], _STAGE_CAP_DAYS) / 30.0
    latent = (
        outcome_shifts(params)[contacts.outcome[asked]]
        + params.survey_willingness_weight * willingness[contacts.account[asked]]
        + params.survey_shift_per_30_days_past_due * stage
        + rng.logistic(size=asked.size)
    )
    return Feedback(
        account=contacts.account[asked],
        day=contacts.day[asked] + _delay(rng, size=asked.size, params=params),
        kind=np.full(asked.size, _SURVEY),
        score=_score(latent, probabilities=params.survey_score_probabilities),
        channel=_CHANNEL_OF_CONTACT[contacts.channel[asked]],
        category=np.full(asked.size, NONE),
        contact=asked,
    )


def outcome_shifts(params: WorldParameters) -> np.ndarray:
    """Survey latent shift per contact outcome code (index into the contacts file's outcomes)."""
    shifts = dict(params.survey_outcome_shifts)
    unknown = set(shifts) - set(OUTCOMES)
    if unknown:
        raise ValueError(f"survey_outcome_shifts names unknown contact outcomes: {sorted(unknown)}")
    return np.array([shifts.get(outcome, 0.0) for outcome in OUTCOMES])


def _complaints(
    rng: np.random.Generator, *, contacts: Contacts, params: WorldParameters
) -> Feedback:
    """Any attempt may draw a complaint; more so when attempts pile up within a week, at late
    stages, and after tense conversations."""
    n = int(contacts.account.shape[0])
    conversation = np.isin(contacts.channel, _CONVERSATIONS)
    extra = np.maximum(
        attempts_in_week(account=contacts.account, day=contacts.day)
        - params.complaint_free_attempts_per_week,
        0,
    )
    trigger = np.select(
        [
            contacts.connected & ~contacts.right_party,
            contacts.outcome == OUTCOMES.index("dispute"),
            contacts.outcome == OUTCOMES.index("refusal"),
            extra > 0,
        ],
        [_THIRD_PARTY, _DISPUTE, _REFUSAL, _INTENSE],
        default=_PLAIN,
    )
    chance = (
        np.where(conversation, params.complaint_share_per_call, params.complaint_share_per_sms)
        * params.complaint_intensity_factor**extra
        * np.where(
            contacts.days_past_due >= params.complaint_late_stage_days,
            params.complaint_late_stage_factor,
            1.0,
        )
        * np.where(trigger <= _REFUSAL, params.complaint_tense_factor, 1.0)
    )
    made = np.flatnonzero(rng.random(n) < chance)
    return Feedback(
        account=contacts.account[made],
        day=contacts.day[made] + _delay(rng, size=made.size, params=params),
        kind=np.full(made.size, _COMPLAINT),
        score=np.zeros(made.size, dtype=np.int64),
        channel=_CHANNEL_OF_CONTACT[contacts.channel[made]],
        category=_categories(rng, trigger=trigger[made], params=params),
        contact=made,
    )


def attempts_in_week(*, account: np.ndarray, day: np.ndarray) -> np.ndarray:
    """For contacts sorted by account and day: the attempts on the same account in the seven days
    ending on each contact's day, itself and the earlier ones of that day included."""
    key = account.astype(np.int64) * _DAY_SPAN + day.astype(np.int64)
    first = np.searchsorted(key, key - 6, side="left")
    counted: np.ndarray = np.arange(key.size) - first + 1
    return counted


def _categories(
    rng: np.random.Generator, *, trigger: np.ndarray, params: WorldParameters
) -> np.ndarray:
    table = np.array(params.complaint_categories, dtype=np.float64)
    if table.shape != (_PLAIN + 1, len(CATEGORIES)):
        raise ValueError(
            f"complaint_categories needs {_PLAIN + 1} rows of {len(CATEGORIES)} probabilities"
        )
    cumulative = np.cumsum(table, axis=1)
    cumulative /= cumulative[:, -1:]
    picked: np.ndarray = (rng.random(trigger.size)[:, None] >= cumulative[trigger]).sum(axis=1)
    return picked


def _portal_ratings(
    rng: np.random.Generator,
    *,
    history: History,
    willingness: np.ndarray,
    params: WorldParameters,
) -> Feedback:
    """Some customers who pay in the app rate it; paying arrears there is less pleasant."""
    months = int(history.paid_amount.shape[1])
    in_app = np.flatnonzero(((history.paid_amount > 0) & (history.paid_channel == _APP)).ravel())
    rated = in_app[rng.random(in_app.size) < params.portal_rating_share_per_app_payment]
    account, month = np.divmod(rated, months)
    latent = (
        params.portal_willingness_weight * willingness[account]
        + np.where(history.bucket[account, month] > 0, params.portal_arrears_shift, 0.0)
        + rng.logistic(size=rated.size)
    )
    return Feedback(
        account=account,
        day=history.paid_day[account, month] + _delay(rng, size=rated.size, params=params),
        kind=np.full(rated.size, _PORTAL),
        score=_score(latent, probabilities=params.portal_score_probabilities),
        channel=np.full(rated.size, NONE),
        category=np.full(rated.size, NONE),
        contact=np.full(rated.size, NONE),
    )


def _score(latent: np.ndarray, *, probabilities: tuple[float, ...]) -> np.ndarray:
    """1..5 from an ordered logit whose categories have `probabilities` at a latent of 0."""
    cuts = logit_cutpoints(np.array(probabilities, dtype=np.float64))
    return ordered_category(latent, cuts).astype(np.int64) + 1


def _delay(rng: np.random.Generator, *, size: int, params: WorldParameters) -> np.ndarray:
    return rng.integers(0, params.feedback_delay_days_max + 1, size=size)


def feedback_table(
    feedback: Feedback, *, account_ids: pa.Array, contact_ids: pa.Array, first_number: int
) -> pa.Table:
    """feedback.csv rows; `contact_ids` is the block's contact_id column, in contact order."""
    n = int(feedback.account.shape[0])
    has_channel = feedback.channel != NONE
    has_category = feedback.category != NONE
    columns = {
        "feedback_id": fmt.prefixed_ids("F", first_number + np.arange(n), width=10),
        "account_id": account_ids.take(pa.array(feedback.account)),
        "received_date": fmt.dates(feedback.day),
        "kind": fmt.labels(KINDS, feedback.kind),
        "score": fmt.integers(feedback.score, valid=feedback.score > 0),
        "channel": fmt.labels(CHANNELS, np.maximum(feedback.channel, 0), valid=has_channel),
        "category": fmt.labels(CATEGORIES, np.maximum(feedback.category, 0), valid=has_category),
        # A null index takes a null: rows without a contact get an empty contact_id.
        "contact_id": contact_ids.take(pa.array(feedback.contact, mask=feedback.contact == NONE)),
    }
    return fmt.contract_table(FEEDBACK, columns)
