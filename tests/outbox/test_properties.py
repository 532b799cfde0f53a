"""The outbox's invariant over random windows and dispatch times (in any order, in any zone): a
message is sent at most once, only inside its window, and ends exactly where a simple model says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huancui.contact.outbox import dispatch
from tests.outbox.conftest import Recorder, World

BASE = datetime(2026, 11, 29, 0, 0, tzinfo=timezone(timedelta(hours=8)))
ZONES = [timezone(timedelta(hours=h)) for h in (8, -5, 0, 14, -12)]

windows = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),  # start, in quarter hours after BASE
        st.integers(min_value=0, max_value=16),  # length, in quarter hours (0: empty window)
        st.sampled_from(range(len(ZONES))),  # the zone it is written in
    ),
    min_size=1,
    max_size=6,
)
times = st.lists(st.integers(min_value=-4, max_value=64), min_size=1, max_size=5)


def quarter(n: int) -> datetime:
    return BASE + timedelta(minutes=15 * n)


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(windows=windows, times=times)
def test_sent_at_most_once_and_only_inside_its_window(
    world: World, windows: list[tuple[int, int, int]], times: list[int]
) -> None:
    world.clear_messages()  # the database lives as long as the test, across examples
    if "P1" not in world.customers:
        world.customer("P1")
    spans: dict[str, tuple[datetime, datetime]] = {}
    for start_q, length_q, zone_index in windows:
        start, end = quarter(start_q), quarter(start_q + length_q)
        zone = ZONES[zone_index]
        key = world.message(
            "P1",
            window=(
                start.astimezone(zone).isoformat(timespec="seconds"),
                end.astimezone(zone).isoformat(timespec="seconds"),
            ),
        )
        spans[key] = (start, end)
    recorder = Recorder()
    sent_when: dict[str, datetime] = {}
    for t in times:
        now = quarter(t)
        before = len(recorder.sent)
        dispatch(
            world.url,
            adapters={"sms": recorder},
            now=now,
            actor="property",
            monotonic=lambda: 0.0,
        )
        for message in recorder.sent[before:]:
            sent_when[message.idempotency_key] = now

    # At most once.
    assert len(recorder.keys) == len(set(recorder.keys))
    # Only inside the window, half-open.
    for key, moment in sent_when.items():
        start, end = spans[key]
        assert start <= moment < end
    # Exactly what the model says.
    rows = world.rows()
    for key, (start, end) in spans.items():
        expected = "pending"
        for t in times:
            now = quarter(t)
            if expected != "pending":
                break
            if now >= end:
                expected = "expired"
            elif now >= start:
                expected = "sent"
        assert rows[key].status == expected, (key, start, end, times)
        assert rows[key].attempts == (1 if expected == "sent" else 0)
        if expected == "sent":
            sent_at = rows[key].sent_at
            assert sent_at is not None and as_utc(sent_at) == sent_when[key]
