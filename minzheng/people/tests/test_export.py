"""Bulk export: a second person's approval above 100 rows, and at most 1000 rows per person per day
(security AC-5, attack A13). Each refusal leaves nothing behind except its audit row (the alert)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook

from minzheng.core.exceptions import (
    ApprovalRequired,
    NotFound,
    PermissionDenied,
    Throttled,
    ValidationFailed,
)
from minzheng.core.models import AuditEvent
from minzheng.people.models import ExportApproval, ExportRecord
from minzheng.people.selectors import PersonFilters, export_approval_queue, export_rows_today
from minzheng.people.services import (
    export_approval_decide,
    export_approval_request,
    person_export,
    person_record_death,
)
from minzheng.people.tests.data import COMMUNITY_A, COMMUNITY_B

SHANGHAI = ZoneInfo("Asia/Shanghai")
REASON = "年度高龄津贴发放名单核对"


def _name(i: int) -> str:
    return "王李张刘陈杨黄赵吴周"[i % 10] + "春夏秋冬松竹梅兰菊桂荷"[i // 10] + "明华英芳军平安宁静文"[i % 10]


@pytest.fixture
def crowd(make_person: Callable[..., Any]) -> list[Any]:
    """101 residents of 社区A, and one of 社区B whom no export from A may contain."""
    people = [make_person(_name(i), COMMUNITY_A, birth=f"19{40 + i % 40}0101") for i in range(101)]
    make_person("李四", COMMUNITY_B)
    return people


def _rows(content: bytes) -> list[tuple[Any, ...]]:
    return list(load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))[1:]


def _audits(event_type: str, result: str = "success") -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event_type=event_type, result=result).order_by("id"))


def _written() -> tuple[Any, ...]:
    """Everything an export or a decision writes, except audit rows."""
    return (
        ExportRecord.objects.count(),
        sorted(ExportApproval.objects.values_list("pk", "status", "decided_by_id", "expires_at", "used_at")),
        AuditEvent.objects.filter(result="success").count(),
    )


def _approved(requester: Any, approver: Any, filters: PersonFilters | None = None) -> ExportApproval:
    approval = export_approval_request(actor=requester, filters=filters, reason=REASON)
    return export_approval_decide(actor=approver, approval_id=approval.pk, approve=True)


# --- Above 100 rows: a second person's approval ------------------------------------------------


def test_100_rows_export_without_an_approval(worker_a, crowd):
    person_record_death(actor=worker_a, person=crowd[0], died_on=crowd[0].birth_date + timedelta(days=30000))

    content, rows = person_export(actor=worker_a)

    assert rows == 100 == len(_rows(content))
    assert [(a.extra["rows"], a.extra["approval"]) for a in _audits("person.export")] == [(100, None)]


def test_101_rows_need_an_approval_and_nothing_is_written(worker_a, crowd):
    before = _written()

    with pytest.raises(ApprovalRequired) as caught:
        person_export(actor=worker_a)

    assert caught.value.code == "export_approval_required"
    assert "导出 101 条超过 100 条,须经街道或区级审批" in caught.value.message
    assert _written() == before
    [alert] = _audits("person.export_refused", "failure")
    assert alert.actor_username == "worker_a"
    assert alert.extra["code"] == "export_approval_required"
    assert alert.extra["rows"] == 101


def test_an_approved_export_works_once(worker_a, township, crowd):
    # Given a worker's request, approved by the 街道
    approval = export_approval_request(actor=worker_a, reason=REASON)
    assert (approval.status, approval.row_count, approval.requested_by_name) == ("pending", 101, "worker_a")
    assert approval.criteria["status"] == "active"
    assert list(export_approval_queue(actor=township)) == [approval]
    decided = export_approval_decide(actor=township, approval_id=approval.pk, approve=True)
    assert decided.status == "approved"
    assert decided.decided_by_name == "wuchang"
    assert timedelta(hours=23, minutes=59) < decided.expires_at - decided.decided_at <= timedelta(hours=24)

    # When the worker exports the same criteria
    content, rows = person_export(actor=worker_a)

    # Then all 101 rows of 社区A come out, masked, and the approval is used up
    names = sorted(r[0] for r in _rows(content))
    assert rows == 101 and len(names) == 101 and "李四" not in names
    stored = ExportApproval.objects.get(pk=approval.pk)
    assert stored.used_at is not None
    [record] = ExportRecord.objects.all()
    assert (record.rows, record.approval_id, record.exported_by_name) == (101, approval.pk, "worker_a")
    assert [e.event_type for e in AuditEvent.objects.filter(result="success", actor_username__in=["worker_a", "wuchang"])
            .order_by("id")] == ["export_approval.request", "export_approval.approve", "person.export"]
    assert _audits("person.export")[0].extra["approval"] == approval.pk

    # And a second export with the same approval is refused, with nothing written but the alert
    before = _written()
    with pytest.raises(ApprovalRequired):
        person_export(actor=worker_a)
    assert _written() == before
    assert [a.extra["code"] for a in _audits("person.export_refused", "failure")] == ["export_approval_required"]


def test_the_approval_covers_only_its_own_criteria(worker_a, township, crowd):
    _approved(worker_a, township)  # 在册 residents
    before = _written()

    with pytest.raises(ApprovalRequired):
        person_export(actor=worker_a, filters=PersonFilters(status=""))  # every status: other criteria

    assert _written() == before


def test_the_approval_expires_after_24_hours(worker_a, township, crowd):
    approval = _approved(worker_a, township)
    before = _written()

    with time_machine.travel(approval.expires_at + timedelta(seconds=1)), pytest.raises(ApprovalRequired):
        person_export(actor=worker_a)

    assert _written() == before


def test_more_rows_than_were_approved_need_a_new_approval(worker_a, township, crowd, make_person):
    _approved(worker_a, township)
    make_person("孙新来", COMMUNITY_A)
    before = _written()

    with pytest.raises(ApprovalRequired) as caught:
        person_export(actor=worker_a)

    assert "多于审批时的 101 条" in caught.value.message
    assert _written() == before


def test_nobody_approves_their_own_request(township, district, crowd):
    # Given a 街道 member's own request (their area holds the 101 residents)
    approval = export_approval_request(actor=township, reason=REASON)
    before = _written()

    # Then it is not in their queue, and deciding it is refused
    assert list(export_approval_queue(actor=township)) == []
    with pytest.raises(PermissionDenied) as caught:
        export_approval_decide(actor=township, approval_id=approval.pk, approve=True)
    assert "不能审批本人" in caught.value.message
    assert _written() == before
    # While the 区 can decide it
    assert export_approval_decide(actor=district, approval_id=approval.pk, approve=True).status == "approved"


def test_an_approver_of_another_area_gets_not_found(worker_a, liangzhu, crowd):
    approval = export_approval_request(actor=worker_a, reason=REASON)
    before = _written()

    assert list(export_approval_queue(actor=liangzhu)) == []
    for approve in (True, False):
        with pytest.raises(NotFound):
            export_approval_decide(actor=liangzhu, approval_id=approval.pk, approve=approve)
    assert _written() == before


def test_a_worker_cannot_approve(worker_a, make_staff, crowd):
    other_worker = make_staff(roles=["community_worker"], division=COMMUNITY_A, username="worker_a2")
    approval = export_approval_request(actor=other_worker, reason=REASON)

    with pytest.raises(PermissionDenied):
        export_approval_decide(actor=worker_a, approval_id=approval.pk, approve=True)
    assert ExportApproval.objects.get(pk=approval.pk).status == "pending"


def test_a_rejected_request_does_not_open_the_export(worker_a, township, crowd):
    approval = export_approval_request(actor=worker_a, reason=REASON)

    export_approval_decide(actor=township, approval_id=approval.pk, approve=False)

    assert ExportApproval.objects.get(pk=approval.pk).status == "rejected"
    assert len(_audits("export_approval.reject")) == 1
    with pytest.raises(ApprovalRequired):
        person_export(actor=worker_a)
    with pytest.raises(NotFound):  # decided once: no second decision
        export_approval_decide(actor=township, approval_id=approval.pk, approve=True)


def test_the_same_request_twice_is_one_request(worker_a, crowd):
    first = export_approval_request(actor=worker_a, reason=REASON)
    again = export_approval_request(actor=worker_a, reason="再次申请导出名单")

    assert again.pk == first.pk
    assert ExportApproval.objects.count() == 1
    assert len(_audits("export_approval.request")) == 1


@pytest.mark.parametrize(("reason", "filters", "field"), [
    ("", None, "reason"),
    ("核对", None, "reason"),  # fewer than 4 characters
    (REASON, PersonFilters(division_code=COMMUNITY_B), "export"),  # 0 rows in the worker's area: no approval needed
])
def test_a_bad_request_is_refused_and_writes_nothing(worker_a, crowd, reason, filters, field):
    before = _written()

    with pytest.raises(ValidationFailed) as caught:
        export_approval_request(actor=worker_a, filters=filters, reason=reason)

    assert field in caught.value.fields
    assert _written() == before


# --- At most 1000 rows per person per day ---------------------------------------------------------


def test_the_export_past_1000_rows_in_a_day_is_refused_and_audited(worker_a, crowd):
    # Given 10 exports of 100 rows today (the 101st resident has died: 100 在册 remain)
    person_record_death(actor=worker_a, person=crowd[0], died_on=crowd[0].birth_date + timedelta(days=30000))
    for _ in range(10):
        assert person_export(actor=worker_a)[1] == 100
    assert export_rows_today(actor=worker_a) == 1000
    before = _written()

    # When one more row is asked for (rows 1001)
    with pytest.raises(Throttled) as caught:
        person_export(actor=worker_a, query=crowd[1].name)

    # Then it is refused with a message naming 导出 and the cap
    assert caught.value.code == "export_daily_limit"
    assert "导出" in caught.value.message and "1000" in caught.value.message
    # And only the alert is written
    assert _written() == before
    [alert] = _audits("person.export_refused", "failure")
    assert (alert.extra["code"], alert.extra["rows"], alert.extra["used_today"]) == ("export_daily_limit", 1, 1000)
    assert "导出" in alert.reason


def test_the_cap_also_holds_with_an_approval(worker_a, township, crowd):
    # Given 900 rows exported earlier today and an approved request for 101 rows
    ExportRecord.objects.create(exported_by_id=worker_a.pk, exported_by_name="worker_a",
                                at=datetime.now(tz=SHANGHAI), rows=900)
    approval = _approved(worker_a, township)

    # Then the approved export (900 + 101 > 1000) is refused, and the approval stays unused
    with pytest.raises(Throttled):
        person_export(actor=worker_a)
    assert ExportApproval.objects.get(pk=approval.pk).used_at is None


def test_the_day_is_the_shanghai_calendar_day(worker_a, crowd):
    person_record_death(actor=worker_a, person=crowd[0], died_on=crowd[0].birth_date + timedelta(days=30000))
    # 23:30 in Hangzhou is 15:30 UTC: the exports count for that Shanghai day
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI), tick=False):
        for _ in range(10):
            person_export(actor=worker_a)
        with pytest.raises(Throttled):
            person_export(actor=worker_a)
    # 00:10 the next morning in Hangzhou is still 2 March in UTC, but a new day for the cap
    with time_machine.travel(datetime(2026, 3, 3, 0, 10, tzinfo=SHANGHAI), tick=False):
        assert export_rows_today(actor=worker_a) == 0
        assert person_export(actor=worker_a)[1] == 100


def test_other_staff_have_their_own_cap(worker_a, make_staff, crowd):
    ExportRecord.objects.create(exported_by_id=worker_a.pk, exported_by_name="worker_a",
                                at=datetime.now(tz=SHANGHAI), rows=1000)
    colleague = make_staff(roles=["community_worker"], division=COMMUNITY_A, username="colleague")

    assert person_export(actor=colleague, query=crowd[1].name)[1] == 1
    with pytest.raises(Throttled):
        person_export(actor=worker_a, query=crowd[1].name)
