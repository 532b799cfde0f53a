"""Events appended by concurrent transactions keep one unbroken hash chain."""

from __future__ import annotations

import threading

from huancui.access import audit
from huancui.kit.database import migrate, unit_of_work
from huancui.kit.settings import Settings

WRITERS = 8


def test_concurrent_appends_keep_one_chain(settings: Settings) -> None:
    url = settings.resolved_database_url
    migrate(url)
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def append(n: int) -> None:
        try:
            start.wait()
            for attempt in range(20):
                try:
                    with unit_of_work(url) as session:
                        audit.record(
                            session, actor=f"writer{n}", action="test.append",
                            entity_type="test", entity_id=str(n),
                        )  # fmt: skip
                    return
                except Exception as exc:  # SQLite: a loser of the write lock retries
                    if "locked" not in str(exc) or attempt == 19:
                        raise
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with unit_of_work(url) as session:
        check = audit.verify(session)
    assert check.ok, check.problem
    assert check.events == WRITERS
