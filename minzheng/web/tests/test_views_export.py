"""The bulk-export approval on screen (security AC-5, attack A13): a worker's export of 101 rows
stops at a request form on the person list, the 街道 approves it from its queue, the export then
works once; another township's approver gets 404; past 1000 rows a day the export is refused."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from conftest import COMMUNITY_A, COMMUNITY_B, LIANGZHU, WUCHANG

FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
REASON = "年度高龄津贴发放名单核对"


def _name(i: int) -> str:
    return "王李张刘陈杨黄赵吴周"[i % 10] + "春夏秋冬松竹梅兰菊桂荷"[i // 10] + "明华英芳军平安宁静文"[i % 10]


@pytest.fixture
def crowd(make_person: Callable[..., Any]) -> list[Any]:
    people = [make_person(_name(i), COMMUNITY_A, birth=f"19{40 + i % 40}0101") for i in range(101)]
    make_person("李秀兰", COMMUNITY_B)
    return people


@pytest.fixture
def staff(make_staff: Callable[..., Any]) -> dict[str, Any]:
    return {
        "worker": make_staff(("community_worker",), COMMUNITY_A, username="wangfang"),
        "township": make_staff(("township_staff",), WUCHANG, username="jiedao"),
        "liangzhu": make_staff(("township_staff",), LIANGZHU, username="liangzhu"),
    }


def _model(name: str) -> Any:
    return apps.get_model("people", name)


def _audit(event_type: str, result: str = "success") -> list[Any]:
    return list(apps.get_model("core", "AuditEvent").objects.filter(event_type=event_type, result=result))


def _body(response: Any) -> str:
    body = response.content.decode()
    assert not FULL_ID.search(body)
    return body


def _exported_rows(response: Any) -> int:
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    return len(list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))) - 1


def test_export_of_101_rows_goes_through_an_approval_once(client: Client, login: Callable[[Any], Client],
                                                          crowd: list[Any], staff: dict[str, Any]) -> None:
    # A worker's export of 101 rows stops at the list, with the message and a request form
    login(staff["worker"])
    refused = client.get("/people/export.xlsx?status=active")
    assert refused.status_code == 302
    assert refused.url == "/people/?status=active&export=approval"
    gate = _body(client.get(refused.url))
    assert "导出 101 条超过 100 条,须经街道或区级审批后方可导出" in gate
    assert "批量导出须经审批" in gate
    assert 'action="/people/export/approval/"' in gate
    assert _model("ExportRecord").objects.count() == 0

    # A reason shorter than 4 characters is refused, naming 理由
    short = client.post("/people/export/approval/", {"status": "active", "reason": "核对"})
    assert "请说明导出理由" in _body(client.get(short.url))
    assert _model("ExportApproval").objects.count() == 0

    asked = client.post("/people/export/approval/", {"q": "", "status": "active", "reason": REASON})
    assert asked.status_code == 302
    pending = _body(client.get(asked.url))
    assert "导出申请已提交" in pending
    assert "等待街道或区级审批" in pending
    assert 'action="/people/export/approval/"' not in pending
    [approval] = _model("ExportApproval").objects.all()
    assert (approval.row_count, approval.status) == (101, "pending")
    assert client.get("/people/export.xlsx?status=active").status_code == 302  # still pending

    # Another township's approver does not see it, and deciding it answers 404
    login(staff["liangzhu"])
    assert REASON not in _body(client.get("/approvals/exports/"))
    other = client.post(f"/approvals/exports/{approval.pk}/", {"decision": "approve"})
    assert other.status_code == 404
    assert "不在您的管辖范围内" in other.content.decode()
    assert _model("ExportApproval").objects.get(pk=approval.pk).status == "pending"

    # The 街道 sees the request with its criteria and approves it
    login(staff["township"])
    queue = _body(client.get("/approvals/exports/"))
    assert "wangfang" in queue and REASON in queue and "在册" in queue and "101" in queue
    decided = client.post(f"/approvals/exports/{approval.pk}/", {"decision": "approve"})
    assert decided.status_code == 302
    assert "已批准 wangfang 导出 101 条" in _body(client.get(decided.url))

    # The worker exports the same criteria once
    login(staff["worker"])
    assert "已批准" in _body(client.get("/people/?status=active&export=approval"))
    exported = client.get("/people/export.xlsx?status=active")
    assert exported.status_code == 200
    assert _exported_rows(exported) == 101
    [row] = _audit("person.export")
    assert (row.extra["rows"], row.extra["approval"]) == (101, approval.pk)

    # And a second time it is refused again
    again = client.get("/people/export.xlsx?status=active")
    assert again.status_code == 302
    assert "须经街道或区级审批" in _body(client.get(again.url))
    assert len(_audit("person.export")) == 1
    assert _model("ExportRecord").objects.count() == 1
    assert {e.event_type for e in apps.get_model("core", "AuditEvent").objects.filter(result="success")} >= {
        "export_approval.request", "export_approval.approve", "person.export"}


def test_an_approver_cannot_approve_their_own_request(client: Client, login: Callable[[Any], Client],
                                                      crowd: list[Any], staff: dict[str, Any]) -> None:
    login(staff["township"])
    client.post("/people/export/approval/", {"status": "active", "reason": REASON})
    [approval] = _model("ExportApproval").objects.all()
    assert REASON not in _body(client.get("/approvals/exports/"))
    response = client.post(f"/approvals/exports/{approval.pk}/", {"decision": "approve"})
    assert response.status_code == 403
    assert "不能审批本人提交的导出申请" in response.content.decode()
    assert _model("ExportApproval").objects.get(pk=approval.pk).status == "pending"
    assert _audit("export_approval.approve") == []


def test_the_export_past_the_daily_cap_is_refused_on_screen(client: Client, login: Callable[[Any], Client],
                                                            crowd: list[Any], staff: dict[str, Any]) -> None:
    worker = staff["worker"]
    _model("ExportRecord").objects.create(exported_by_id=worker.pk, exported_by_name=worker.username,
                                          at=timezone.now(), rows=1000)
    login(worker)
    response = client.get(f"/people/export.xlsx?q={crowd[0].name}")
    assert response.status_code == 302
    body = _body(client.get(response.url))
    assert "每人每日导出上限 1000 条,导出被拒绝" in body
    assert _model("ExportRecord").objects.count() == 1
    [alert] = _audit("person.export_refused", "failure")
    assert alert.extra["code"] == "export_daily_limit"
    assert _audit("person.export") == []
