"""The daily export cap holds when one member of staff exports twice at the same moment (security
AC-5, A13; ASVS V11.1.6): on PostgreSQL one export waits for the other's advisory lock, so the second
sees the first's rows and is refused. Transactional: each thread commits on its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from minzheng.core.exceptions import Throttled
from minzheng.core.models import AuditEvent
from minzheng.people.models import ExportRecord
from minzheng.people.services import person_export
from minzheng.people.tests.data import COMMUNITY_A

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_exports_at_once_cannot_both_pass_the_daily_cap(
    require_postgres: None, settings: Any, worker_a: Any, make_person: Callable[..., Any]
) -> None:
    # Given a cap of 3 rows a day and 2 residents: one export of 2 fits, two do not
    settings.MINZHENG = {**settings.MINZHENG, "EXPORT_DAILY_ROWS": 3}
    make_person("王秀英", COMMUNITY_A, birth="19400101")
    make_person("张建华", COMMUNITY_A, birth="19410101")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def export() -> None:
        try:
            barrier.wait(timeout=30)
            person_export(actor=worker_a)
            outcomes.append("ok")
        except Throttled:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=export) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    # Then exactly one export went through, and the other was refused and audited
    assert sorted(outcomes) == ["ok", "refused"]
    assert list(ExportRecord.objects.values_list("rows", flat=True)) == [2]
    assert AuditEvent.objects.filter(event_type="person.export_refused", result="failure").count() == 1
