"""The data contract: the daily files a core-banking system hands over, column by column.

This module is the single source of truth for the delivery format; the importer validates against it,
the generator writes it and docs/data-contract.md is rendered from it (`huancui contract docs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    """How a column's text is read. Every file is staged as text first, then converted."""

    STRING = "string"
    INTEGER = "integer"
    MONEY = "money"  # yuan with at most two decimals in files, integer fen inside
    RATE = "rate"  # a decimal fraction, e.g. 0.18 for 18 % a year
    DATE = "date"  # YYYY-MM-DD (also YYYY/MM/DD and YYYYMMDD, common in bank exports)
    TIMESTAMP = "timestamp"  # ISO 8601 with a UTC offset, e.g. 2026-11-27T10:15:00+08:00
    BOOLEAN = "boolean"  # true/false, 1/0, y/n, yes/no, 是/否
    ENUM = "enum"  # one of a fixed list of codes, matched case-insensitively, stored as listed


@dataclass(frozen=True)
class Column:
    """One documented column of a delivery file."""

    name: str
    type: ColumnType
    required: bool
    meaning: str
    example: str
    label_zh: str
    unit: str = ""
    values: tuple[str, ...] = ()  # allowed codes for ENUM
    minimum: int | None = None  # INTEGER, RATE: the value; MONEY: yuan
    maximum: int | None = None
    positive: bool = False  # strictly above zero (a payment of 0.00 is no payment)
    max_length: int | None = None
    pattern: str | None = None  # regular expression a STRING must match in full
    pattern_hint: str = ""  # what the pattern means, for error messages
    not_after_as_of: bool = False  # a DATE/TIMESTAMP that cannot lie after the as-of date
    pii: bool = False  # personal data: masked in messages and logs
    default: str | None = None  # value used when an optional column is absent or empty


@dataclass(frozen=True)
class ForeignKey:
    """`column` must name an existing row of `target_file` (by its key column)."""

    column: str
    target_file: str
    target_column: str


@dataclass(frozen=True)
class FileSpec:
    """One file of the delivery: its columns, key and references."""

    name: str
    required: bool
    meaning: str
    label_zh: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = field(default=())
    min_rows: int = 0  # a delivery with fewer data rows than this is refused

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# Money ceilings: anything above is "absurd" for a retail portfolio and almost always a unit error
# (fen delivered as yuan, or a misplaced decimal point).
MAX_RETAIL_YUAN = 50_000_000

PROVINCE_CODES = (
    "BJ", "TJ", "HE", "SX", "NM", "LN", "JL", "HL", "SH", "JS", "ZJ", "AH", "FJ", "JX", "SD", "HA",
    "HB", "HN", "GD", "GX", "HI", "CQ", "SC", "GZ", "YN", "XZ", "SN", "GS", "QH", "NX", "XJ",
)  # fmt: skip

CUSTOMERS = FileSpec(
    name="customers",
    required=True,
    min_rows=1,
    label_zh="客户",
    meaning="One row per borrower (the debtor). Contact data is personal and masked outside the roles "
    "that need it.",
    key=("customer_id",),
    columns=(
        Column(
            "customer_id",
            ColumnType.STRING,
            True,
            "Bank's stable customer number.",
            "C000001234",
            "客户号",
            max_length=32,
            pattern=r"[A-Za-z0-9_-]+",
            pattern_hint="letters, digits, '-' and '_' only",
        ),
        Column(
            "name",
            ColumnType.STRING,
            True,
            "Full legal name.",
            "王小明",
            "姓名",
            max_length=64,
            pii=True,
        ),
        Column(
            "national_id",
            ColumnType.STRING,
            True,
            "Resident identity card number (18 characters, last may be X), checksum verified.",
            "110101199003071233",
            "身份证号",
            pattern=r"[0-9]{17}[0-9X]",
            pattern_hint="18 characters: 17 digits then a digit or X",
            pii=True,
        ),
        Column(
            "phone",
            ColumnType.STRING,
            True,
            "Mainland mobile number, 11 digits.",
            "13812345678",
            "手机号",
            pattern=r"1[3-9][0-9]{9}",
            pattern_hint="11 digits starting 13–19",
            pii=True,
        ),
        Column(
            "email",
            ColumnType.STRING,
            False,
            "E-mail address, if the customer gave one.",
            "wang@example.com",
            "电子邮箱",
            max_length=254,
            pattern=r"[^@\s]+@[^@\s]+\.[^@\s]+",
            pattern_hint="name@domain",
            pii=True,
        ),
        Column(
            "birth_date",
            ColumnType.DATE,
            False,
            "Date of birth.",
            "1990-03-07",
            "出生日期",
            not_after_as_of=True,
            pii=True,
        ),
        Column(
            "province",
            ColumnType.ENUM,
            True,
            "Province of residence (GB/T 2260 short code).",
            "GD",
            "省份",
            values=PROVINCE_CODES,
        ),
        Column(
            "city", ColumnType.STRING, False, "City of residence.", "深圳市", "城市", max_length=64
        ),
        Column(
            "timezone",
            ColumnType.STRING,
            False,
            "IANA time zone used for contact windows; Xinjiang customers often keep Asia/Urumqi.",
            "Asia/Shanghai",
            "时区",
            pattern=r"[A-Za-z_]+/[A-Za-z_]+",
            pattern_hint="an IANA name such as Asia/Shanghai",
            default="Asia/Shanghai",
        ),
        Column(
            "credit_grade",
            ColumnType.ENUM,
            True,
            "Bank's internal credit grade at the as-of date, A best to E worst.",
            "B",
            "信用等级",
            values=("A", "B", "C", "D", "E"),
        ),
        Column(
            "monthly_income",
            ColumnType.MONEY,
            False,
            "Declared monthly income.",
            "12000.00",
            "月收入",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "employment_status",
            ColumnType.ENUM,
            False,
            "Employment at last review.",
            "employed",
            "就业状态",
            values=("employed", "self_employed", "unemployed", "retired", "student", "other"),
        ),
        Column(
            "preferred_language",
            ColumnType.ENUM,
            False,
            "Language for messages.",
            "zh-CN",
            "语言偏好",
            values=("zh-CN", "en"),
            default="zh-CN",
        ),
        Column(
            "consent_sms",
            ColumnType.BOOLEAN,
            False,
            "Agreed to SMS contact.",
            "true",
            "同意短信",
            default="true",
        ),
        Column(
            "consent_email",
            ColumnType.BOOLEAN,
            False,
            "Agreed to e-mail contact.",
            "true",
            "同意邮件",
            default="true",
        ),
        Column(
            "consent_call",
            ColumnType.BOOLEAN,
            False,
            "Agreed to telephone contact.",
            "true",
            "同意电话",
            default="true",
        ),
    ),
)

ACCOUNTS = FileSpec(
    name="accounts",
    required=True,
    min_rows=1,
    label_zh="账户",
    meaning="One row per credit-card account or instalment loan, with its balances at the as-of date.",
    key=("account_id",),
    foreign_keys=(
        ForeignKey("customer_id", "customers", "customer_id"),
        ForeignKey("guarantor_customer_id", "customers", "customer_id"),
    ),
    columns=(
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Bank's account or loan number.",
            "A0000012345",
            "账号",
            max_length=32,
            pattern=r"[A-Za-z0-9_-]+",
            pattern_hint="letters, digits, '-' and '_' only",
        ),
        Column(
            "customer_id",
            ColumnType.STRING,
            True,
            "Owner; must exist in customers.",
            "C000001234",
            "客户号",
            max_length=32,
        ),
        Column(
            "product",
            ColumnType.ENUM,
            True,
            "Product family; decides charge-off rules.",
            "credit_card",
            "产品类型",
            values=("credit_card", "instalment_loan"),
        ),
        Column(
            "product_name",
            ColumnType.STRING,
            False,
            "Marketing name of the product.",
            "白金信用卡",
            "产品名称",
            max_length=64,
        ),
        Column(
            "open_date",
            ColumnType.DATE,
            True,
            "Date the account was opened or the loan paid out.",
            "2023-05-18",
            "开户日期",
            not_after_as_of=True,
        ),
        Column(
            "currency",
            ColumnType.ENUM,
            False,
            "ISO 4217 currency of every amount.",
            "CNY",
            "币种",
            values=("CNY",),
            default="CNY",
        ),
        Column(
            "credit_limit",
            ColumnType.MONEY,
            False,
            "Card credit limit (cards only).",
            "50000.00",
            "信用额度",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "loan_amount",
            ColumnType.MONEY,
            False,
            "Principal paid out (loans only).",
            "120000.00",
            "贷款本金",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "term_months",
            ColumnType.INTEGER,
            False,
            "Contractual term (loans only).",
            "36",
            "期限（月）",
            unit="months",
            minimum=1,
            maximum=360,
        ),
        Column(
            "annual_rate",
            ColumnType.RATE,
            True,
            "Contractual annual interest rate as a fraction.",
            "0.1800",
            "年利率",
            unit="fraction per year",
            minimum=0,
            maximum=1,
        ),
        Column(
            "outstanding_principal",
            ColumnType.MONEY,
            True,
            "Principal owed at the as-of date.",
            "8650.00",
            "剩余本金",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "outstanding_interest",
            ColumnType.MONEY,
            False,
            "Accrued unpaid interest.",
            "312.40",
            "应收利息",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
            default="0",
        ),
        Column(
            "outstanding_fees",
            ColumnType.MONEY,
            False,
            "Unpaid fees and penalty interest.",
            "50.00",
            "应收费用",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
            default="0",
        ),
        Column(
            "status",
            ColumnType.ENUM,
            False,
            "Bank's account status.",
            "open",
            "账户状态",
            values=("open", "closed", "charged_off"),
            default="open",
        ),
        Column(
            "branch",
            ColumnType.STRING,
            False,
            "Owning branch code.",
            "SZ001",
            "网点",
            max_length=32,
        ),
        Column(
            "guarantor_customer_id",
            ColumnType.STRING,
            False,
            "Guarantor, if any; contact is lawful with debtor and guarantor only.",
            "C000009876",
            "担保人客户号",
            max_length=32,
        ),
    ),
)

DUES = FileSpec(
    name="dues",
    required=True,
    min_rows=1,
    label_zh="应还计划/账单",
    meaning="The due schedule (loans) or the statements' minimum payments (cards): what had to be "
    "paid by each due date, split into components. Days past due are computed from this file "
    "and payments.",
    key=("account_id", "period_no"),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
    columns=(
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Account the amount is due on.",
            "A0000012345",
            "账号",
            max_length=32,
        ),
        Column(
            "period_no",
            ColumnType.INTEGER,
            True,
            "Instalment or statement number, 1 upward.",
            "7",
            "期次",
            minimum=1,
            maximum=10_000,
        ),
        Column(
            "statement_date",
            ColumnType.DATE,
            False,
            "Statement date (cards).",
            "2026-10-05",
            "账单日",
        ),
        Column(
            "due_date",
            ColumnType.DATE,
            True,
            "Date by which the amount must be paid. May lie "
            "after the as-of date (future instalments are ignored until due).",
            "2026-10-25",
            "到期还款日",
        ),
        Column(
            "principal_due",
            ColumnType.MONEY,
            True,
            "Principal part of the amount due.",
            "1000.00",
            "应还本金",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "interest_due",
            ColumnType.MONEY,
            False,
            "Interest part.",
            "150.00",
            "应还利息",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
            default="0",
        ),
        Column(
            "fee_due",
            ColumnType.MONEY,
            False,
            "Fees and penalty interest part.",
            "0.00",
            "应还费用",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
            default="0",
        ),
        Column(
            "statement_balance",
            ColumnType.MONEY,
            False,
            "Full statement balance (cards).",
            "8650.00",
            "账单金额",
            unit="CNY yuan",
            minimum=0,
            maximum=MAX_RETAIL_YUAN,
        ),
    ),
)

PAYMENTS = FileSpec(
    name="payments",
    required=True,
    label_zh="还款流水",
    meaning="Every repayment received up to the as-of date. Reversals are delivered by removing "
    "the payment from the next full delivery, not as negative rows.",
    key=("payment_id",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
    columns=(
        Column(
            "payment_id",
            ColumnType.STRING,
            True,
            "Unique transaction reference.",
            "P20261020000123",
            "交易流水号",
            max_length=40,
        ),
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Account paid into.",
            "A0000012345",
            "账号",
            max_length=32,
        ),
        Column(
            "paid_date",
            ColumnType.DATE,
            True,
            "Value date of the payment.",
            "2026-10-20",
            "还款日期",
            not_after_as_of=True,
        ),
        Column(
            "amount",
            ColumnType.MONEY,
            True,
            "Amount received, positive.",
            "1150.00",
            "还款金额",
            unit="CNY yuan",
            positive=True,
            maximum=MAX_RETAIL_YUAN,
        ),
        Column(
            "channel",
            ColumnType.ENUM,
            False,
            "How it was paid.",
            "app",
            "还款渠道",
            values=("app", "bank_transfer", "counter", "autopay", "agency", "other"),
            default="other",
        ),
    ),
)

CONTACTS = FileSpec(
    name="contacts",
    required=False,
    label_zh="催收联系记录",
    meaning="Optional contact history from earlier systems: attempts and their outcomes.",
    key=("contact_id",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
    columns=(
        Column(
            "contact_id",
            ColumnType.STRING,
            True,
            "Unique attempt reference.",
            "K000991",
            "联系编号",
            max_length=40,
        ),
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Account concerned.",
            "A0000012345",
            "账号",
            max_length=32,
        ),
        Column(
            "contacted_at",
            ColumnType.TIMESTAMP,
            True,
            "When, with UTC offset.",
            "2026-10-28T10:15:00+08:00",
            "联系时间",
            not_after_as_of=True,
        ),
        Column(
            "channel",
            ColumnType.ENUM,
            True,
            "Channel used.",
            "call",
            "渠道",
            values=("sms", "email", "call", "visit", "letter", "legal"),
        ),
        Column(
            "connected",
            ColumnType.BOOLEAN,
            False,
            "A call was answered / a visit met someone.",
            "true",
            "是否接通",
            default="false",
        ),
        Column(
            "right_party",
            ColumnType.BOOLEAN,
            False,
            "Spoke with the debtor or guarantor.",
            "true",
            "是否本人",
            default="false",
        ),
        Column(
            "outcome",
            ColumnType.ENUM,
            False,
            "Outcome code.",
            "promise",
            "结果",
            values=(
                "no_answer",
                "wrong_number",
                "right_party",
                "promise",
                "dispute",
                "hardship_claim",
                "refusal",
                "paid",
                "delivered",
                "failed",
                "other",
            ),
            default="other",
        ),
        Column(
            "agent_id",
            ColumnType.STRING,
            False,
            "Collector or agency reference.",
            "U0042",
            "催收员",
            max_length=32,
        ),
    ),
)

HOLDS = FileSpec(
    name="holds",
    required=False,
    label_zh="止催标记",
    meaning="Optional holds already placed in the bank's systems. A hold stops collection contact "
    "(on one channel when `channel` is given) from start_date until end_date inclusive.",
    key=("hold_id",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
    columns=(
        Column(
            "hold_id",
            ColumnType.STRING,
            True,
            "Unique hold reference.",
            "H00017",
            "标记编号",
            max_length=40,
        ),
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Account on hold.",
            "A0000012345",
            "账号",
            max_length=32,
        ),
        Column(
            "hold_type",
            ColumnType.ENUM,
            True,
            "Why contact stops.",
            "hardship",
            "止催类型",
            values=(
                "hardship",
                "dispute",
                "legal",
                "bankruptcy",
                "deceased",
                "do_not_contact",
                "channel_opt_out",
                "vulnerable",
            ),
        ),
        Column(
            "channel",
            ColumnType.ENUM,
            False,
            "Only for channel_opt_out: the channel.",
            "sms",
            "渠道",
            values=("sms", "email", "call", "visit", "letter"),
        ),
        Column(
            "start_date",
            ColumnType.DATE,
            True,
            "First day of the hold.",
            "2026-10-01",
            "开始日期",
            not_after_as_of=True,
        ),
        Column(
            "end_date",
            ColumnType.DATE,
            False,
            "Last day, empty for open-ended.",
            "2026-12-30",
            "结束日期",
        ),
        Column(
            "reason",
            ColumnType.STRING,
            False,
            "Free text.",
            "客户失业，申请缓催",
            "原因",
            max_length=500,
        ),
    ),
)

FEEDBACK = FileSpec(
    name="feedback",
    required=False,
    label_zh="客户反馈",
    meaning="Optional customer feedback: satisfaction surveys after a contact, ratings left on the "
    "self-service portal and complaints. Surveys and portal ratings carry a score from 1 to 5; "
    "complaints carry none.",
    key=("feedback_id",),
    foreign_keys=(ForeignKey("account_id", "accounts", "account_id"),),
    columns=(
        Column(
            "feedback_id",
            ColumnType.STRING,
            True,
            "Unique feedback reference.",
            "F000123",
            "反馈编号",
            max_length=40,
        ),
        Column(
            "account_id",
            ColumnType.STRING,
            True,
            "Account the feedback is about.",
            "A0000012345",
            "账号",
            max_length=32,
        ),
        Column(
            "received_date",
            ColumnType.DATE,
            True,
            "Day the bank received the survey answer, rating or complaint.",
            "2026-10-29",
            "反馈日期",
            not_after_as_of=True,
        ),
        Column(
            "kind",
            ColumnType.ENUM,
            True,
            "Survey after a contact, rating on the portal, or complaint.",
            "survey",
            "反馈类型",
            values=("survey", "complaint", "portal_rating"),
        ),
        Column(
            "score",
            ColumnType.INTEGER,
            False,
            "Satisfaction, 1 (very unhappy) to 5 (very satisfied). Required for survey and "
            "portal_rating, empty for complaint.",
            "4",
            "满意度评分",
            minimum=1,
            maximum=5,
        ),
        Column(
            "channel",
            ColumnType.ENUM,
            False,
            "Channel of the contact the feedback is about.",
            "call",
            "渠道",
            values=("sms", "email", "call", "visit", "letter", "legal"),
        ),
        Column(
            "category",
            ColumnType.ENUM,
            False,
            "What a complaint is about.",
            "frequency",
            "投诉类别",
            values=("harassment", "frequency", "wrong_amount", "privacy", "rudeness", "other"),
        ),
        Column(
            "contact_id",
            ColumnType.STRING,
            False,
            "The contact attempt the feedback refers to; may lie before the contacts delivered.",
            "K000991",
            "联系编号",
            max_length=40,
        ),
    ),
)

FILES: tuple[FileSpec, ...] = (CUSTOMERS, ACCOUNTS, DUES, PAYMENTS, CONTACTS, HOLDS, FEEDBACK)
FILES_BY_NAME: dict[str, FileSpec] = {f.name: f for f in FILES}
