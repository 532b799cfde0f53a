"""The portfolio summary: accounts and balances per bucket and product, and delinquency rates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from huancui.kit.errors import NotFound
from huancui.kit.money import format_yuan
from huancui.portfolio.policy import DelinquencyPolicy
from huancui.portfolio.repository import BucketLine, PortfolioRepository

RATE_PLACES = Decimal("0.0001")


def ratio(part: int, whole: int) -> Decimal:
    """part / whole to four decimals (half-up); zero when there is nothing to divide."""
    if whole == 0:
        return Decimal(0)
    return (Decimal(part) / Decimal(whole)).quantize(RATE_PLACES)


@dataclass(frozen=True)
class PortfolioSummary:
    as_of: date
    lines: list[BucketLine]
    bucket_order: list[str]

    def _active(self, line: BucketLine) -> int:
        return line.accounts - line.charged_off

    @property
    def accounts(self) -> int:
        return sum(line.accounts for line in self.lines)

    @property
    def balance_fen(self) -> int:
        return sum(line.balance_fen for line in self.lines)

    @property
    def charged_off(self) -> int:
        return sum(line.charged_off for line in self.lines)

    @property
    def delinquent_accounts(self) -> int:
        """Accounts 1+ days past due that are not charged off."""
        first = self.bucket_order[0]
        return sum(self._active(x) for x in self.lines if x.bucket != first)

    @property
    def delinquency_rate(self) -> Decimal:
        """Delinquent accounts ÷ accounts not charged off."""
        return ratio(self.delinquent_accounts, self.accounts - self.charged_off)

    @property
    def delinquent_balance_fen(self) -> int:
        first = self.bucket_order[0]
        return sum(x.balance_fen for x in self.lines if x.bucket != first and x.charged_off == 0)

    def by_bucket(self) -> list[dict[str, Any]]:
        out = []
        for bucket in self.bucket_order:
            rows = [x for x in self.lines if x.bucket == bucket]
            if not rows:
                continue
            out.append(
                {
                    "bucket": bucket,
                    "accounts": sum(x.accounts for x in rows),
                    "balance": format_yuan(sum(x.balance_fen for x in rows)),
                    "arrears": format_yuan(sum(x.arrears_fen for x in rows)),
                    "charged_off": sum(x.charged_off for x in rows),
                    "by_product": {
                        x.product: {
                            "accounts": x.accounts,
                            "balance": format_yuan(x.balance_fen),
                            "arrears": format_yuan(x.arrears_fen),
                        }
                        for x in sorted(rows, key=lambda r: r.product)
                    },
                }
            )
        return out

    def products(self) -> dict[str, dict[str, Any]]:
        first = self.bucket_order[0]
        out: dict[str, dict[str, Any]] = {}
        for product in sorted({x.product for x in self.lines}):
            rows = [x for x in self.lines if x.product == product]
            total = sum(x.accounts - x.charged_off for x in rows)
            late = sum(x.accounts - x.charged_off for x in rows if x.bucket != first)
            out[product] = {
                "accounts": sum(x.accounts for x in rows),
                "balance": format_yuan(sum(x.balance_fen for x in rows)),
                "delinquent_accounts": late,
                "delinquency_rate": str(ratio(late, total)),
                "charged_off": sum(x.charged_off for x in rows),
            }
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "accounts": self.accounts,
            "balance": format_yuan(self.balance_fen),
            "delinquent_accounts": self.delinquent_accounts,
            "delinquent_balance": format_yuan(self.delinquent_balance_fen),
            "delinquency_rate": str(self.delinquency_rate),
            "delinquency_rate_by_balance": str(
                ratio(self.delinquent_balance_fen, self.balance_fen)
            ),
            "charged_off_accounts": self.charged_off,
            "products": self.products(),
            "buckets": self.by_bucket(),
            "definitions": {
                "delinquency_rate": "accounts 1+ days past due (after grace) and not charged off,"
                " divided by accounts not charged off",
                "money": "CNY yuan as decimal strings with two places",
            },
        }


def portfolio_summary(
    session: Session, *, as_of: date, policy: DelinquencyPolicy
) -> PortfolioSummary:
    repo = PortfolioRepository(session)
    snapshot = repo.snapshot_for(as_of)
    if snapshot is None:
        latest = repo.latest_snapshot()
        hint = f"; the latest is {latest.as_of}" if latest else "; run `huancui import` first"
        raise NotFound(f"no snapshot for {as_of}{hint}")
    buckets = [b["name"] for b in snapshot.policy.get("buckets", [])] or [
        b.name for b in policy.buckets
    ]
    return PortfolioSummary(as_of, repo.bucket_lines(snapshot.snapshot_id), buckets)
