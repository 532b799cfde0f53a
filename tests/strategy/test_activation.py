"""Activating strategies: versions are kept, exactly one is active, every change is audited."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from huancui.access.audit import verify
from huancui.access.tables import AuditEventRow
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.settings import Settings
from huancui.strategy.repository import StrategyRepository
from huancui.strategy.service import (
    Activation,
    StrategyRejected,
    VersionConflict,
    activate,
    list_versions,
)
from huancui.strategy.tables import StrategyVersionRow
from tests.strategy.conftest import default_text, variant

WriteStrategy = Callable[..., Path]


def version_2() -> str:
    text = variant("version: 1", "version: 2")
    return variant("traffic_share: 0.2", "traffic_share: 0.3", text=text)


@pytest.fixture
def url(settings: Settings) -> str:
    url = settings.resolved_database_url
    migrate(url)
    return url


def _activate(url: str, path: Path, actor: str = "li.na") -> Activation:
    with unit_of_work(url) as session:
        return activate(session, path=path, actor=actor)


def _audit(url: str) -> list[AuditEventRow]:
    with unit_of_work(url) as session:
        return list(session.scalars(select(AuditEventRow).order_by(AuditEventRow.event_id)))


def test_activation_keeps_versions_and_flips_the_active_one(
    url: str, write_strategy: WriteStrategy
) -> None:
    v1 = write_strategy(default_text(), "v1.yaml")
    v2 = write_strategy(version_2(), "v2.yaml")
    first = _activate(url, v1)
    assert (first.previous, first.changed, first.stored) == (None, True, True)
    second = _activate(url, v2, actor="wang.wei")
    assert (second.previous, second.changed, second.stored) == ("default v1", True, True)
    with unit_of_work(url) as session:
        rows = list_versions(session)
        assert [(r.version, r.is_active) for r in rows] == [(1, False), (2, True)]
        assert rows[0].yaml_text == default_text()
        assert rows[1].activated_by == "wang.wei"
        assert StrategyRepository(session).active() is rows[1]
    events = _audit(url)
    assert [(e.action, e.entity_id, e.actor) for e in events] == [
        ("strategy.activate", "default:v1", "li.na"),
        ("strategy.activate", "default:v2", "wang.wei"),
    ]
    assert events[1].before is not None and events[1].before["active"] == "default v1"
    assert events[1].after is not None and events[1].after["active"] == "default v2"
    assert events[1].reason is not None and "First version" in events[1].reason


def test_rolling_back_reactivates_the_stored_version(
    url: str, write_strategy: WriteStrategy
) -> None:
    v1 = write_strategy(default_text(), "v1.yaml")
    _activate(url, v1)
    _activate(url, write_strategy(version_2(), "v2.yaml"))
    back = _activate(url, v1)
    assert (back.previous, back.changed, back.stored) == ("default v2", True, False)
    with unit_of_work(url) as session:
        assert [(r.version, r.is_active) for r in list_versions(session)] == [(1, True), (2, False)]
        assert verify(session).ok
    assert _audit(url)[-1].after == {
        "active": "default v1",
        "sha256": back.sha256,
        "effective_date": "2026-11-01",
        "reactivated": True,
    }


def test_activating_the_active_version_again_changes_nothing(
    url: str, write_strategy: WriteStrategy
) -> None:
    v1 = write_strategy(default_text())
    _activate(url, v1)
    again = _activate(url, v1)
    assert (again.changed, again.stored) == (False, False)
    assert len(_audit(url)) == 1


def test_changed_content_under_a_stored_version_is_refused(
    url: str, write_strategy: WriteStrategy
) -> None:
    _activate(url, write_strategy(default_text(), "v1.yaml"))
    edited = write_strategy(variant("traffic_share: 0.2", "traffic_share: 0.25"), "edited.yaml")
    with pytest.raises(VersionConflict, match=r"set `version: 2`"):
        _activate(url, edited)
    with unit_of_work(url) as session:
        assert len(list_versions(session)) == 1
    assert len(_audit(url)) == 1


def test_an_invalid_file_is_refused_and_nothing_is_stored(
    url: str, write_strategy: WriteStrategy
) -> None:
    bad = write_strategy(variant("min_dpd: 31", "min_dpd: 40"))
    with pytest.raises(StrategyRejected) as caught:
        _activate(url, bad)
    assert caught.value.exit_code == 2
    assert "leaving a gap at 31–39" in str(caught.value)
    with unit_of_work(url) as session:
        assert list_versions(session) == []
    assert _audit(url) == []


def test_the_database_allows_only_one_active_version(
    url: str, write_strategy: WriteStrategy
) -> None:
    _activate(url, write_strategy(default_text(), "v1.yaml"))
    _activate(url, write_strategy(version_2(), "v2.yaml"))
    with pytest.raises(IntegrityError), unit_of_work(url) as session:
        session.execute(update(StrategyVersionRow).values(is_active=True))
