"""Every knob of the synthetic world in one frozen dataclass, with calibrated defaults.

docs/world-model.md explains each parameter, the published figures it was tuned against and the
values measured from a real generation run.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LifeEventType:
    """A kind of life event that cuts a customer's ability to pay for a while."""

    name: str
    monthly_hazard: float  # chance per customer-month that such an event starts
    ability_shock: float  # subtracted from the standardised ability while the event lasts
    mean_duration_months: float  # durations are 1 + geometric, so this is their mean
    hold_reason_zh: str  # what the bank writes on a hardship hold caused by this event


@dataclass(frozen=True)
class WorldParameters:
    """The world's parameters. Defaults are the calibrated world documented in world-model.md."""

    # --- portfolio mix -------------------------------------------------------------------------
    card_share: float = 0.60
    accounts_per_customer_weights: tuple[float, ...] = (0.78, 0.19, 0.03)  # 1, 2, 3 accounts
    grade_shares: tuple[float, float, float, float, float] = (0.20, 0.30, 0.25, 0.15, 0.10)
    ability_willingness_correlation: float = 0.30
    grade_noise: float = 0.50  # noise the bank's grade adds on top of the latent traits
    declined_share: float = 0.10  # applicants with the lowest scores never became customers
    xinjiang_urumqi_time_share: float = 0.35
    guarantor_share_of_loans: float = 0.05

    # --- credit cards ---------------------------------------------------------------------------
    card_annual_rate_bp: int = 1825  # 0.05 % a day, the long-standing Chinese card rate
    card_min_payment_share: float = 0.10
    card_min_payment_floor_fen: int = 10_000
    card_grace_days: int = 20  # statement date to due date
    card_late_fee_share: float = 0.05  # 违约金: share of the unpaid minimum payment
    card_spend_share_range: tuple[float, float] = (0.03, 0.30)  # monthly spend / credit limit
    card_activity_probability: float = 0.92  # chance an unblocked card is used in a month
    transactor_intercept: float = -0.30  # logit of paying statements in full, at average ability
    transactor_ability_slope: float = 1.00
    card_charge_off_days: int = 180

    # --- instalment loans (等额本息) ------------------------------------------------------------
    loan_rate_bp_by_grade: tuple[int, int, int, int, int] = (450, 650, 900, 1300, 1800)
    loan_terms_months: tuple[int, ...] = (12, 24, 36, 60)
    loan_term_weights: tuple[float, ...] = (0.25, 0.30, 0.35, 0.10)
    loan_penalty_rate_multiplier: float = 1.5  # 罚息: contract rate plus 50 % on overdue amounts
    loan_charge_off_days: int = 120
    future_loan_dues: int = 3  # instalments after the as-of date that are written to dues.csv

    # --- monthly payment behaviour --------------------------------------------------------------
    ability_weight: float = 0.60  # weight of effective ability in the payment propensity
    willingness_weight: float = 0.70
    loan_propensity_shift: float = 0.60  # instalments are kept current before card minimums
    # For an average customer (ability 0, willingness 0), the probabilities of the outcomes at
    # each arrears bucket (number of earlier dues still unpaid: 0 = current, capped at 6).
    # Bucket 0: (none, partial, paid in full but late, paid in full on time).
    # Bucket 1+: (none, partial, pays one due and keeps pace, pays everything and cures).
    outcome_probabilities: tuple[tuple[float, float, float, float], ...] = (
        (0.018, 0.008, 0.030, 0.944),
        (0.150, 0.080, 0.140, 0.630),
        (0.180, 0.070, 0.160, 0.590),
        (0.220, 0.080, 0.250, 0.450),
        (0.250, 0.080, 0.350, 0.320),
        (0.280, 0.080, 0.420, 0.220),
        (0.300, 0.080, 0.470, 0.150),
    )
    partial_share_range: tuple[float, float] = (0.10, 0.80)  # share of one due paid when partial
    on_time_window_days: int = 7  # on-time payments land this many days before the due date
    card_late_days_max: int = 7  # late payments stay before the next statement
    loan_late_days_max: int = 15
    autopay_share: float = 0.25
    recovery_probability: float = 0.02  # monthly chance of a payment on a charged-off account
    recovery_share_range: tuple[float, float] = (0.05, 0.30)

    # --- life events ----------------------------------------------------------------------------
    life_events: tuple[LifeEventType, ...] = field(
        default=(
            LifeEventType("job_loss", 0.0040, 2.5, 6.0, "客户失业，申请缓催"),
            LifeEventType("illness", 0.0030, 1.8, 4.0, "客户重病住院，申请缓催"),
            LifeEventType("family_emergency", 0.0030, 1.2, 3.0, "家庭突发变故，申请缓催"),
            LifeEventType("natural_disaster", 0.0, 1.8, 3.0, "受自然灾害影响，申请缓催"),
        )
    )
    disaster_province_monthly_probability: float = 0.01
    disaster_affected_share: float = 0.20
    event_prehistory_months: int = 12  # events may start this long before the history window

    # --- contact history of the previous system -------------------------------------------------
    contact_lookback_days: int = 60
    sms_on_days_past_due: tuple[int, ...] = (1, 3, 7, 15, 25, 40, 55, 70, 85, 100, 115)
    call_from_days_past_due: int = 5
    call_every_days: int = 3
    agents: int = 400

    # --- holds ----------------------------------------------------------------------------------
    hardship_hold_share: float = 0.30  # of delinquent accounts whose customer is in hardship
    hardship_hold_days: int = 90
    dispute_hold_share: float = 0.002  # of delinquent accounts
    deceased_hold_share: float = 0.0003  # of delinquent accounts
    do_not_contact_share: float = 0.0005  # of all accounts
    channel_opt_out_share: float = 0.003  # of all accounts

    # --- customer feedback (assumptions, not measured from any bank) ----------------------------
    # Scores 1..5 follow an ordered logit: the probabilities below are those of an average customer
    # (willingness 0) in a plain right-party conversation while current; shifts move the latent.
    survey_share_after_conversation: float = 0.08  # of connected calls/visits (not wrong numbers)
    survey_share_after_sms: float = 0.003  # of delivered SMS
    survey_score_probabilities: tuple[float, float, float, float, float] = (
        0.06, 0.06, 0.16, 0.32, 0.40,
    )  # fmt: skip
    survey_outcome_shifts: tuple[tuple[str, float], ...] = (
        ("paid", 0.8),
        ("promise", 0.6),
        ("right_party", 0.0),
        ("hardship_claim", -0.3),
        ("other", -0.5),  # someone else took the call
        ("refusal", -1.2),
        ("dispute", -1.6),
    )  # contact outcomes not listed shift by 0
    survey_willingness_weight: float = 0.40  # willingness as a proxy for the call's tone
    survey_shift_per_30_days_past_due: float = -0.15  # firmer stages score lower, up to 180 days
    feedback_delay_days_max: int = 2  # answers and complaints arrive 0..this many days later
    complaint_share_per_call: float = 0.0015  # of call and visit attempts, answered or not
    complaint_share_per_sms: float = 0.0002
    complaint_free_attempts_per_week: int = 2  # attempts in 7 days before intensity counts
    complaint_intensity_factor: float = 1.6  # per attempt beyond those, multiplies the chance
    complaint_late_stage_days: int = 90
    complaint_late_stage_factor: float = 2.0
    complaint_tense_factor: float = 3.0  # refusal, dispute, or a third party took the call
    # Category probabilities by what triggered the complaint, in the contract's order:
    # harassment, frequency, wrong_amount, privacy, rudeness, other.
    complaint_categories: tuple[tuple[float, ...], ...] = (
        (0.20, 0.00, 0.00, 0.60, 0.05, 0.15),  # a third party took the call
        (0.10, 0.00, 0.60, 0.00, 0.15, 0.15),  # dispute
        (0.35, 0.10, 0.00, 0.00, 0.40, 0.15),  # refusal
        (0.25, 0.60, 0.00, 0.00, 0.05, 0.10),  # more attempts in a week than the free ones
        (0.25, 0.20, 0.10, 0.05, 0.25, 0.15),  # anything else
    )
    portal_rating_share_per_app_payment: float = 0.004
    portal_score_probabilities: tuple[float, float, float, float, float] = (
        0.04, 0.04, 0.12, 0.35, 0.45,
    )  # fmt: skip
    portal_willingness_weight: float = 0.20
    portal_arrears_shift: float = -0.6  # paying arrears through the app is less pleasant

    # --- customers' consents and contact data ---------------------------------------------------
    email_share: float = 0.40
    consent_sms_share: float = 0.97
    consent_email_share: float = 0.70
    consent_call_share: float = 0.95
    english_share: float = 0.01


DEFAULT_PARAMETERS = WorldParameters()
