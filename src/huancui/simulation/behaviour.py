"""The simulator's behaviour model: how customers respond to contact, read from a documented YAML.

Every number lives in `behaviour.yaml` (shipped next to this module) with its source or the
assumption behind it; this module only types and checks them. `load_behaviour(path)` gives a
`Behaviour`; a bad file names the field (pydantic) and the file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from huancui.kit.errors import InvalidInput

SHIPPED = Path(__file__).with_name("behaviour.yaml")
CHANNELS = ("sms", "email", "call", "visit", "letter", "legal")
TONES = ("gentle", "neutral", "firm")

Share = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PerChannel(_Strict):
    sms: float
    email: float
    call: float
    visit: float
    letter: float
    legal: float

    def get(self, channel: str) -> float:
        return float(getattr(self, channel))


class PerTone(_Strict):
    gentle: float
    neutral: float
    firm: float

    def get(self, tone: str) -> float:
        return float(getattr(self, tone))


class Reach(_Strict):
    """Whether an attempt reaches the customer."""

    sms_delivered: Share
    email_opened: Share
    letter_read: Share
    call_connect_intercept: float  # logit of a call being answered, average customer
    call_connect_willingness: float  # per unit of willingness + goodwill
    call_connect_per_recent_call: float  # per call attempt in the last 7 days (avoidance)
    call_right_party: Share  # of answered calls
    visit_met: Share
    visit_right_party: Share


class Salience(_Strict):
    """A reminder's push on the customer's attention, decaying with a half-life."""

    per_channel: PerChannel  # added when an attempt reaches the customer
    half_life_days: Annotated[float, Field(gt=0)]
    # Log-odds added, per unit of salience from reminders reaching a current customer (early-
    # warning care), to the decision to pay the coming due on time.
    before_due_effect: float = 0.0


class Pressure(_Strict):
    """How much an attempt presses: channel weight × tone weight, decaying with a half-life."""

    channel: PerChannel
    tone: PerTone
    half_life_days: Annotated[float, Field(gt=0)]
    litigation_floor: NonNegative  # pressure that stays while an account is in legal process


class Payment(_Strict):
    """The daily chance that a customer in arrears pays, as log-odds."""

    base_logit_by_missed_dues: tuple[float, ...]  # 1, 2, ..., last applies beyond
    ability_weight: float
    willingness_weight: float
    goodwill_weight: float
    reminder_effect: float  # per unit of salience, for able customers
    pressure_effect_unwilling: float  # per unit of pressure, able and unwilling customers
    pressure_effect_willing: float  # per unit of pressure, willing customers
    pressure_saturation: NonNegative  # pressure beyond this adds nothing
    forgetful_share_of_late: Share  # of current accounts that miss a due, those who simply forgot
    forgetful_boost: float  # log-odds added while a forgetful account is within 30 days
    cure_logit: float  # given a payment: logit of paying all arrears (vs one due or part)
    cure_ability_weight: float
    one_due_share: Share  # of payments that are not a cure: one due (the rest part of one)
    partial_share_range: tuple[Share, Share]
    charged_off_daily_recovery: Share


class Conversation(_Strict):
    """What happens in a right-party call or visit (multinomial logit over outcomes)."""

    pay_now_logit: float
    promise_logit: float
    refusal_logit: float
    dispute_logit: float
    willingness_weight: float  # raises pay and promise, lowers refusal
    ability_weight: float
    solution_offer_promise_boost: float  # a script that offers a solution
    firm_tone_refusal_boost: float
    firm_tone_able_unwilling_boost: float  # pay now or promise, able but unwilling customers
    promise_days: Annotated[int, Field(ge=1, le=30)]
    promise_keep_intercept: float
    promise_keep_ability: float
    promise_keep_willingness: float


class Hardship(_Strict):
    """Customers with a life event running: asking for a 缓催 pause and what pressure does."""

    ask_when_offered: Share  # right-party contact with a solution offered
    ask_when_contacted: Share  # right-party contact without one
    ask_self_service_daily: Share  # applies on the portal unprompted, per day in arrears
    approval_share: Share  # applications with the evidence the policy asks for
    pause_days: Annotated[int, Field(ge=1, le=365)]
    pressure_goodwill_loss: NonNegative  # goodwill lost per unit of pressure while in hardship
    pause_goodwill_gain: NonNegative
    event_daily_hazard_scale: NonNegative  # monthly hazards of the world ÷ 30.4 × this


class Complaints(_Strict):
    per_attempt: PerChannel  # chance per attempt that reaches the customer
    tone_factor: PerTone
    free_attempts_per_week: Annotated[int, Field(ge=0)]
    intensity_factor: Annotated[float, Field(ge=1.0)]
    good_customer_factor: NonNegative  # willing, able customers pressed firmly
    hardship_factor: NonNegative  # customers in hardship pressed while unable to pay
    goodwill_loss: NonNegative


class Goodwill(_Strict):
    """The relationship: rises with help, falls with harshness; feeds willingness and loyalty."""

    harsh_loss_per_pressure: NonNegative  # willing customers (willingness > 0) only
    helpful_gain: NonNegative  # a right-party contact that offered a solution
    daily_decay: Share  # share of goodwill that fades each day


class Attrition(_Strict):
    """Customers who end the relationship (close their accounts once they can)."""

    daily_logit_intercept: float
    goodwill_weight: float  # per unit of (negative) goodwill
    complaint_boost: float  # log-odds added on the day of a complaint
    value_threshold: float  # ability + willingness above which a customer counts as 'good'


class Satisfaction(_Strict):
    survey_share_after_conversation: Share
    survey_share_after_sms: Share
    score_probabilities: tuple[Share, Share, Share, Share, Share]
    tone_shift: PerTone
    outcome_shift_paid: float
    outcome_shift_promise: float
    outcome_shift_refusal: float
    outcome_shift_dispute: float
    pause_shift: float
    goodwill_weight: float
    hardship_pressed_shift: float


class Behaviour(_Strict):
    version: int
    reach: Reach
    salience: Salience
    pressure: Pressure
    payment: Payment
    conversation: Conversation
    hardship: Hardship
    complaints: Complaints
    goodwill: Goodwill
    attrition: Attrition
    satisfaction: Satisfaction

    @model_validator(mode="after")
    def _check(self) -> Behaviour:
        if not self.payment.base_logit_by_missed_dues:
            raise ValueError("payment.base_logit_by_missed_dues needs at least one value")
        low, high = self.payment.partial_share_range
        if low > high:
            raise ValueError("payment.partial_share_range: the first value exceeds the second")
        if abs(sum(self.satisfaction.score_probabilities) - 1.0) > 1e-6:
            raise ValueError("satisfaction.score_probabilities must sum to 1")
        return self


@dataclass(frozen=True)
class LoadedBehaviour:
    behaviour: Behaviour
    source: str
    sha256: str


def load_behaviour(path: Path | None = None) -> LoadedBehaviour:
    """The behaviour model in `path` (default: the shipped behaviour.yaml)."""
    target = path or SHIPPED
    try:
        raw = target.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{target}: cannot read the behaviour model ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"{target}: the behaviour model must be a mapping")
    data.pop("sources", None)  # documentation only
    try:
        behaviour = Behaviour.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{target}: {where}: {first['msg']}") from None
    return LoadedBehaviour(behaviour, str(target), hashlib.sha256(raw).hexdigest())
