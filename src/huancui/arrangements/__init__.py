"""Repayment arrangements (还款安排): quotes, promises to pay and plans with their lifecycle,
eligibility and authority, nightly monitoring from payments, and the 缓催 hardship pause."""
