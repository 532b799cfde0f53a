"""The columns a strategy rule may use: the batch plane's per-account snapshot, plus model scores.

They come from `account_state` (portfolio/delinquency.py) and `snapshot_accounts` (importer.py);
identifiers and personal data are left out on purpose, since no rule should single out one person.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SqlType(StrEnum):
    """DuckDB type of a rule column."""

    BOOLEAN = "BOOLEAN"
    INTEGER = "INTEGER"
    BIGINT = "BIGINT"
    DOUBLE = "DOUBLE"
    VARCHAR = "VARCHAR"
    DATE = "DATE"


class Kind(StrEnum):
    """What an expression yields, for type checking rules: the families DuckDB compares freely."""

    BOOLEAN = "boolean"
    NUMBER = "number"
    TEXT = "text"
    DATE = "date"


_KIND = {
    SqlType.BOOLEAN: Kind.BOOLEAN,
    SqlType.INTEGER: Kind.NUMBER,
    SqlType.BIGINT: Kind.NUMBER,
    SqlType.DOUBLE: Kind.NUMBER,
    SqlType.VARCHAR: Kind.TEXT,
    SqlType.DATE: Kind.DATE,
}


@dataclass(frozen=True)
class RuleColumn:
    """One column a condition or priority expression may name."""

    name: str
    sql_type: SqlType
    meaning: str
    unit: str = ""
    values: tuple[str, ...] = ()  # the codes of a VARCHAR column with a fixed list
    nullable: bool = False

    @property
    def kind(self) -> Kind:
        return _KIND[self.sql_type]


_GRADES = ("A", "B", "C", "D", "E")
_PRODUCTS = ("credit_card", "instalment_loan")
_STATUSES = ("open", "closed", "charged_off")

SNAPSHOT_COLUMNS: tuple[RuleColumn, ...] = (
    RuleColumn("product", SqlType.VARCHAR, "Product family.", values=_PRODUCTS),
    RuleColumn("product_name", SqlType.VARCHAR, "Marketing name of the product.", nullable=True),
    RuleColumn("status", SqlType.VARCHAR, "Bank's account status.", values=_STATUSES),
    RuleColumn(
        "credit_grade", SqlType.VARCHAR, "Internal credit grade, A best to E worst.", values=_GRADES
    ),
    RuleColumn("province", SqlType.VARCHAR, "Province of residence (GB/T 2260 short code)."),
    RuleColumn("branch", SqlType.VARCHAR, "Owning branch code.", nullable=True),
    RuleColumn("open_date", SqlType.DATE, "Date the account was opened or the loan paid out."),
    RuleColumn("principal_fen", SqlType.BIGINT, "Outstanding principal.", unit="fen"),
    RuleColumn("interest_fen", SqlType.BIGINT, "Accrued unpaid interest.", unit="fen"),
    RuleColumn("fees_fen", SqlType.BIGINT, "Unpaid fees and penalty interest.", unit="fen"),
    RuleColumn("balance_fen", SqlType.BIGINT, "Principal + interest + fees owed.", unit="fen"),
    RuleColumn("arrears_fen", SqlType.BIGINT, "Amount past due (billed and unpaid).", unit="fen"),
    RuleColumn("arrears_principal_fen", SqlType.BIGINT, "Principal part of arrears.", unit="fen"),
    RuleColumn("arrears_interest_fen", SqlType.BIGINT, "Interest part of arrears.", unit="fen"),
    RuleColumn("arrears_fee_fen", SqlType.BIGINT, "Fee part of arrears.", unit="fen"),
    RuleColumn("missed_dues", SqlType.INTEGER, "Dues unpaid past their grace period."),
    RuleColumn(
        "days_past_due", SqlType.INTEGER, "Days since the oldest unpaid due (0: current).", "days"
    ),
    RuleColumn("bucket", SqlType.VARCHAR, "Delinquency bucket (M0, M1, … M7+ by default)."),
    RuleColumn(
        "oldest_unpaid_due_date", SqlType.DATE, "Due date of the oldest unpaid due.", nullable=True
    ),
    RuleColumn(
        "delinquent_since", SqlType.DATE, "Start of the current delinquency.", nullable=True
    ),
    RuleColumn(
        "cycles_delinquent", SqlType.INTEGER, "Times the account has entered delinquency so far."
    ),
    RuleColumn("last_payment_date", SqlType.DATE, "Date of the last payment.", nullable=True),
    RuleColumn("paid_30d_fen", SqlType.BIGINT, "Paid in the last 30 days.", unit="fen"),
    RuleColumn("charged_off", SqlType.BOOLEAN, "Charged off by the delinquency policy."),
    RuleColumn("charge_off_date", SqlType.DATE, "Date of charge-off.", nullable=True),
    RuleColumn("credit_limit_fen", SqlType.BIGINT, "Card credit limit.", "fen", nullable=True),
    RuleColumn("loan_amount_fen", SqlType.BIGINT, "Loan principal paid out.", "fen", nullable=True),
    RuleColumn("term_months", SqlType.INTEGER, "Loan term.", unit="months", nullable=True),
    RuleColumn("annual_rate_ppm", SqlType.BIGINT, "Annual interest rate.", unit="millionths (ppm)"),
)

# Reserved for the models to come; NULL until a model version is registered, so a rule using
# them should say what happens without one, e.g. COALESCE(score_pay_30d, 0.5).
SCORE_COLUMNS: tuple[RuleColumn, ...] = tuple(
    RuleColumn(name, SqlType.DOUBLE, meaning, unit="probability 0–1", nullable=True)
    for name, meaning in (
        ("score_pay_30d", "Propensity to pay within 30 days."),
        ("score_roll", "Probability of rolling to the next bucket."),
        ("score_ew", "Early-warning probability of delinquency (accounts still current)."),
        ("score_ability", "Estimated ability to pay."),
        ("score_willingness", "Estimated willingness to pay."),
    )
)

RULE_COLUMNS: tuple[RuleColumn, ...] = SNAPSHOT_COLUMNS + SCORE_COLUMNS
COLUMNS_BY_NAME: dict[str, RuleColumn] = {c.name: c for c in RULE_COLUMNS}


def render_columns_table() -> str:
    """Markdown table of the rule columns, as docs/strategy.md shows it."""
    lines = ["| column | type | unit | NULL | meaning |", "|---|---|---|---|---|"]
    for c in RULE_COLUMNS:
        meaning = c.meaning
        if c.values:
            meaning += " One of " + ", ".join(f"`{v}`" for v in c.values) + "."
        nullable = "yes" if c.nullable else ""
        lines.append(f"| `{c.name}` | {c.sql_type} | {c.unit} | {nullable} | {meaning} |")
    return "\n".join(lines) + "\n"
