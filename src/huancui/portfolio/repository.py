"""Every case-plane query of the portfolio feature: snapshots, master data, summaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
from sqlalchemy import Connection, FromClause, case, delete, func, select, text
from sqlalchemy.orm import Session

from huancui.kit.database import bulk_load
from huancui.portfolio.tables import (
    AccountRow,
    AccountSnapshotRow,
    CustomerRow,
    DelinquencySpellRow,
    SnapshotRow,
)


@dataclass(frozen=True)
class BucketLine:
    product: str
    bucket: str
    accounts: int
    balance_fen: int
    arrears_fen: int
    charged_off: int


def _with_constant(
    batches: Iterable[pa.RecordBatch], name: str, value: int
) -> Iterable[pa.RecordBatch]:
    for batch in batches:
        column = pa.array([value] * batch.num_rows, type=pa.int64())
        yield pa.RecordBatch.from_arrays(
            [column, *batch.columns], names=[name, *batch.schema.names]
        )


class PortfolioRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _connection(self) -> Connection:
        return self.session.connection()

    def snapshot_for(self, as_of: date) -> SnapshotRow | None:
        return self.session.scalars(select(SnapshotRow).where(SnapshotRow.as_of == as_of)).first()

    def latest_snapshot(self) -> SnapshotRow | None:
        return self.session.scalars(
            select(SnapshotRow).order_by(SnapshotRow.as_of.desc()).limit(1)
        ).first()

    def snapshot_on_or_before(self, day: date) -> SnapshotRow | None:
        return self.session.scalars(
            select(SnapshotRow)
            .where(SnapshotRow.as_of <= day)
            .order_by(SnapshotRow.as_of.desc())
            .limit(1)
        ).first()

    def delete_snapshot(self, snapshot: SnapshotRow) -> None:
        """Remove a snapshot and everything computed for it (master data stays)."""
        sid = snapshot.snapshot_id
        self.session.execute(
            delete(DelinquencySpellRow).where(DelinquencySpellRow.snapshot_id == sid)
        )
        self.session.execute(
            delete(AccountSnapshotRow).where(AccountSnapshotRow.snapshot_id == sid)
        )
        self.session.delete(snapshot)
        self.session.flush()

    def add_snapshot(self, snapshot: SnapshotRow) -> int:
        self.session.add(snapshot)
        self.session.flush()
        return snapshot.snapshot_id

    def upsert_customers(self, batches: Iterable[pa.RecordBatch]) -> int:
        return self._upsert(CustomerRow.__table__, "customer_id", batches)

    def upsert_accounts(self, batches: Iterable[pa.RecordBatch]) -> int:
        return self._upsert(AccountRow.__table__, "account_id", batches)

    def _upsert(self, target: FromClause, key: str, batches: Iterable[pa.RecordBatch]) -> int:
        """Insert new rows, refresh known ones unless the delivery is older than what we hold."""
        conn = self._connection
        table = str(getattr(target, "name", ""))
        columns = [c.name for c in target.columns]
        staging = f"_in_{table}"
        conn.execute(text(f"DROP TABLE IF EXISTS {staging}"))
        conn.execute(text(f"CREATE TEMP TABLE {staging} AS SELECT * FROM {table} WHERE 1 = 0"))
        written = bulk_load(conn, staging, batches)
        least = "min" if conn.dialect.name == "sqlite" else "least"
        newer = f"excluded.last_seen_on >= {table}.last_seen_on"
        updates = []
        for col in columns:
            if col == key:
                continue
            if col == "first_seen_on":
                updates.append(f"{col} = {least}({table}.{col}, excluded.{col})")
            else:
                updates.append(
                    f"{col} = CASE WHEN {newer} THEN excluded.{col} ELSE {table}.{col} END"
                )
        names = ", ".join(columns)
        conn.execute(
            text(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} WHERE true "
                f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(updates)}"
            )
        )
        conn.execute(text(f"DROP TABLE {staging}"))
        return written

    def load_account_snapshots(self, snapshot_id: int, batches: Iterable[pa.RecordBatch]) -> int:
        return bulk_load(
            self._connection,
            AccountSnapshotRow.__tablename__,
            _with_constant(batches, "snapshot_id", snapshot_id),
        )

    def load_spells(self, snapshot_id: int, batches: Iterable[pa.RecordBatch]) -> int:
        return bulk_load(
            self._connection,
            DelinquencySpellRow.__tablename__,
            _with_constant(batches, "snapshot_id", snapshot_id),
        )

    def bucket_lines(self, snapshot_id: int) -> list[BucketLine]:
        s = AccountSnapshotRow
        rows = self.session.execute(
            select(
                s.product,
                s.bucket,
                func.count(),
                func.coalesce(func.sum(s.balance_fen), 0),
                func.coalesce(func.sum(s.arrears_fen), 0),
                func.coalesce(func.sum(case((s.charged_off, 1), else_=0)), 0),
            )
            .where(s.snapshot_id == snapshot_id)
            .group_by(s.product, s.bucket)
        ).all()
        return [
            BucketLine(p, b, int(n), int(bal), int(arr), int(co)) for p, b, n, bal, arr, co in rows
        ]

    def account_snapshot(self, snapshot_id: int, account_id: str) -> AccountSnapshotRow | None:
        return self.session.get(AccountSnapshotRow, (snapshot_id, account_id))

    def spells(self, snapshot_id: int, account_id: str) -> list[DelinquencySpellRow]:
        return list(
            self.session.scalars(
                select(DelinquencySpellRow)
                .where(
                    DelinquencySpellRow.snapshot_id == snapshot_id,
                    DelinquencySpellRow.account_id == account_id,
                )
                .order_by(DelinquencySpellRow.started_on)
            )
        )

    def count_rows(self, snapshot_id: int) -> tuple[int, int]:
        accounts = self.session.scalar(
            select(func.count()).where(AccountSnapshotRow.snapshot_id == snapshot_id)
        )
        spells = self.session.scalar(
            select(func.count()).where(DelinquencySpellRow.snapshot_id == snapshot_id)
        )
        return int(accounts or 0), int(spells or 0)
