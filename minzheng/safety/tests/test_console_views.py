"""The 24-hour console and its screens: who may open each route (anonymous / no permission / other
area / allowed), what they show (masked), that actions go through the incident services, and that
bad input is refused with a message naming the field and nothing changed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from minzheng.safety.models import Incident, IncidentEntry
from minzheng.safety.tests.conftest import COMMUNITY_A, bj

pytestmark = pytest.mark.django_db
T = bj(5, 6, 10)
FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
HX = {"HTTP_HX_REQUEST": "true"}
LIANGZHU = "330110010000"


@pytest.fixture
def sos(home_a: Any, sender: Any) -> Incident:
    sender.one("SOS-A", "sos", 1, T)
    return Incident.objects.get(alarm_type="sos")


def snapshot(incident: Incident) -> tuple[Any, ...]:
    incident.refresh_from_db()
    return (incident.state, incident.acked_at, incident.dispatched_at, incident.resolved_at, incident.outcome,
            incident.assignee_id, IncidentEntry.objects.filter(incident=incident).count())


def urls(pk: int, home_pk: int) -> list[str]:
    return ["/safety/", "/safety/board/", f"/safety/incidents/{pk}/", f"/safety/homes/{home_pk}/",
            "/safety/handover/", "/safety/metrics/"]


ACTIONS = ["acknowledge", "call", "dispatch", "arrive", "resolve", "follow-up", "close", "reopen", "note"]


# --- who may open what --------------------------------------------------------------------------


def test_anonymous_is_sent_to_login_everywhere(client, sos):
    for url in [*urls(sos.pk, sos.home_id), *(f"/safety/incidents/{sos.pk}/{a}/" for a in ACTIONS)]:
        r = client.get(url)
        assert r.status_code == 302, url
        assert "/login/" in r["Location"], url
    before = snapshot(sos)
    r = client.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    assert r.status_code == 302
    assert snapshot(sos) == before


def test_roles_without_the_grant_are_refused(sos, login, make_staff):
    before = snapshot(sos)
    for role in ("canteen_operator", "caseworker", "auditor"):
        kwargs: dict[str, Any] = {"division": "330110000000"} if role == "auditor" else {}
        c = login(make_staff([role], **kwargs))
        for url in urls(sos.pk, sos.home_id):
            assert c.get(url).status_code == 403, (role, url)
        for action in ACTIONS:
            assert c.post(f"/safety/incidents/{sos.pk}/{action}/", {"note": "x"}).status_code == 403, (role, action)
    assert snapshot(sos) == before


def test_a_community_worker_sees_but_does_not_run_the_console(sos, login, worker_a):
    c = login(worker_a)
    assert c.get("/safety/").status_code == 200
    assert c.get(f"/safety/incidents/{sos.pk}/").status_code == 200
    assert c.get("/safety/metrics/").status_code == 403  # no safety.view_metrics
    before = snapshot(sos)
    for action in ("acknowledge", "dispatch", "follow-up", "close", "reopen"):
        assert c.post(f"/safety/incidents/{sos.pk}/{action}/").status_code == 403, action
    # RESPOND_INCIDENT lets the route through; the service refuses a step before dispatch.
    r = c.post(f"/safety/incidents/{sos.pk}/resolve/", {"outcome": "assisted"})
    assert r.status_code == 403
    assert "您没有执行此操作的权限" in r.content.decode()
    assert snapshot(sos) == before


def test_other_area_staff_get_404_and_never_see_the_incident(sos, login, worker_b, make_staff):
    for staff in (worker_b, make_staff(["township_staff"], LIANGZHU, username="liangzhu")):
        c = login(staff)
        for url in (f"/safety/incidents/{sos.pk}/", f"/safety/homes/{sos.home_id}/",
                    f"/safety/incidents/{sos.pk}/call/"):
            r = c.get(url)
            assert r.status_code == 404, url
            assert "王" not in r.content.decode().split("<main")[-1], url
        before = snapshot(sos)
        assert c.post(f"/safety/incidents/{sos.pk}/call/", {"party": "elder", "result": "no_answer"}).status_code == 404
        assert snapshot(sos) == before
        for url in ("/safety/", "/safety/board/", "/safety/handover/"):
            assert sos.code not in c.get(url).content.decode(), url
    assert sos.code not in login(make_staff(["township_staff"], LIANGZHU, username="lz2")).get(
        "/safety/metrics/").content.decode()


def test_the_menu_lists_the_safety_screens_by_permission(sos, login, operator, worker_a):
    html = login(operator).get("/safety/").content.decode()
    for label in ("安居守护 · 监控台", "安居守护 · 交接班", "安居守护 · 统计报表"):
        assert label in html
    html = login(worker_a).get("/safety/").content.decode()
    assert "安居守护 · 交接班" in html
    assert "安居守护 · 统计报表" not in html


# --- what the screens show ----------------------------------------------------------------------


def test_the_console_lists_open_incidents_masked_with_time_left(sos, login, operator, home_b, sender):
    sender.one("SOS-B", "sos", 1, T, gateway="GW-B")
    c = login(operator)
    html = c.get("/safety/").content.decode()
    assert sos.code in html
    assert "王*英" in html
    assert "王秀英" not in html
    assert "超时" in html  # T is in the past: the 60 s to acknowledge are long gone
    assert not FULL_ID.search(html)
    assert "console.js" in html
    assert 'hx-trigger="every 4s' in html
    board = c.get("/safety/board/").content.decode()
    assert "<html" not in board
    assert board.count('data-severity="critical"') == 2
    assert 'id="sc-counts" class="sc-counts" hx-swap-oob="true"' in board


def test_the_incident_page_has_the_home_card(sos, login, operator):
    r = login(operator).get(f"/safety/incidents/{sos.pk}/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "王*英" in html
    assert "王秀英" not in html
    assert sos.person.id_masked in html
    assert not FULL_ID.search(html)
    assert "138****5678" in html  # the son's phone, masked
    assert "13812345678" not in html
    assert "王*明" in html
    assert "紧急呼叫按钮" in html  # devices
    assert "纬度 30.29000" in html
    assert 'id="activity-data"' in html
    assert "生成工单" in html  # the timeline
    home = login(operator).get(f"/safety/homes/{sos.home_id}/").content.decode()
    assert "近 48 小时活动" in home
    assert not FULL_ID.search(home)


def test_handover_and_metrics_render(sos, login, operator):
    c = login(operator)
    r = c.get("/safety/handover/", {"day": "2026-05-06", "shift": "day"})
    assert r.status_code == 200
    html = r.content.decode()
    assert sos.code in html
    assert "移交下一班" in html
    r = c.get("/safety/metrics/", {"day": "2026-05-06", "month": "2026-05"})
    assert r.status_code == 200
    html = r.content.decode()
    assert "处置时效与质量" in html
    assert 'id="daily-data"' in html


@pytest.mark.parametrize(("url", "params", "field"), [
    ("/safety/handover/", {"shift": "lunch"}, "班次"),
    ("/safety/handover/", {"day": "2026-13-01"}, "日期"),
    ("/safety/metrics/", {"month": "2026-13"}, "月份"),
    ("/safety/metrics/", {"day": "yesterday"}, "日期"),
    ("/safety/metrics/", {"month": "9999-12"}, "月份"),
    ("/safety/metrics/", {"month": "2026-1-1"}, "月份"),
    ("/safety/metrics/", {"day": "9999-12-31"}, "日期"),
    ("/safety/handover/", {"day": "0001-01-01", "shift": "night"}, "日期"),
])
def test_bad_report_parameters_name_the_field(sos, login, operator, url, params, field):
    r = login(operator).get(url, params)
    assert r.status_code == 400
    assert f"<b>{field}</b>" in r.content.decode()


# --- actions ------------------------------------------------------------------------------------


def test_the_closed_loop_from_the_console(sos, login, operator, worker_a):
    c = login(operator)
    base = f"/safety/incidents/{sos.pk}"
    r = c.post(f"{base}/acknowledge/", **HX)
    assert r.status_code == 200
    assert "safety-done" in r["HX-Trigger"]
    assert Incident.objects.get(pk=sos.pk).state == "acknowledged"
    form = c.get(f"{base}/call/", **HX).content.decode()
    assert "<html" not in form
    assert 'name="party"' in form
    assert c.post(f"{base}/call/", {"party": "elder", "result": "no_answer"}, **HX).status_code == 200
    assert Incident.objects.get(pk=sos.pk).state == "verifying"
    form = c.get(f"{base}/dispatch/", **HX).content.decode()
    assert "社工甲" in form  # the community's worker is offered
    r = c.post(f"{base}/dispatch/", {"target": "community_worker", "assignee": str(worker_a.pk), "note": "请立即上门"},
               **HX)
    assert r.status_code == 200
    inc = Incident.objects.get(pk=sos.pk)
    assert (inc.state, inc.assignee_id, inc.dispatch_target) == ("dispatched", worker_a.pk, "community_worker")
    w = login(worker_a)
    assert w.post(f"{base}/arrive/").status_code == 302
    r = w.post(f"{base}/resolve/", {"outcome": "assisted", "note": "已扶起, 无大碍"})
    assert r.status_code == 302
    assert r["Location"] == f"{base}/"
    assert "处置完毕完成" in w.get(r["Location"]).content.decode()  # the flash
    c = login(operator)
    assert c.post(f"{base}/follow-up/").status_code == 302
    assert c.post(f"{base}/close/", {"note": "回访: 平安"}).status_code == 302
    inc = Incident.objects.get(pk=sos.pk)
    assert (inc.state, inc.outcome) == ("closed", "assisted")
    actions = list(IncidentEntry.objects.filter(incident=inc).order_by("at", "id").values_list("action", flat=True))
    assert actions[-7:] == ["verify", "call", "dispatch", "arrive", "resolve", "follow_up", "close"]
    assert sos.code not in c.get("/safety/board/").content.decode()  # no longer open
    assert c.post(f"{base}/reopen/", {"reason": "老人再次来电"}).status_code == 302
    assert Incident.objects.get(pk=sos.pk).state == "new"


def test_a_false_alarm_needs_its_reason(sos, login, operator):
    c = login(operator)
    base = f"/safety/incidents/{sos.pk}"
    c.post(f"{base}/acknowledge/")
    before = snapshot(sos)
    r = c.post(f"{base}/resolve/", {"outcome": "false_alarm_other", "note": "  "}, **HX)
    assert r.status_code == 400
    assert "<b>说明</b>" in r.content.decode()
    assert "请说明误报原因" in r.content.decode()
    assert snapshot(sos) == before
    assert c.post(f"{base}/resolve/", {"outcome": "false_alarm_accidental"}, **HX).status_code == 200
    inc = Incident.objects.get(pk=sos.pk)
    assert (inc.state, inc.outcome) == ("resolved", "false_alarm_accidental")


@pytest.mark.parametrize(("action", "data", "field", "message"), [
    ("call", {"party": "elder"}, "通话结果", "请选择通话结果"),
    ("call", {"party": "robot", "result": "no_answer"}, "通话对象", "请选择通话对象"),
    ("dispatch", {"target": "helicopter"}, "派单对象", "请选择派单对象"),
    ("dispatch", {"target": "community_worker"}, "处置人", "请选择社区工作人员"),
    ("dispatch", {"target": "community_worker", "assignee": "abc"}, "处置人", "请从列表中选择处置人"),
    ("dispatch", {"target": "volunteer", "assignee": "999999"}, "处置人", "处置人不存在"),
    ("resolve", {}, "处置结果", "请选择处置结果"),
    ("resolve", {"outcome": "cancelled"}, "处置结果", "请选择处置结果"),
    ("note", {"note": ""}, "说明", "请填写备注"),
    ("note", {"note": "夜间\x00来电"}, "说明", "含有无法保存的控制字符"),
    ("resolve", {"outcome": "assisted", "note": "\x00"}, "说明", "含有无法保存的控制字符"),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_input_is_refused_naming_the_field_and_nothing_changes(sos, login, operator, action, data, field,
                                                                    message, htmx):
    c = login(operator)
    c.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    before = snapshot(sos)
    r = c.post(f"/safety/incidents/{sos.pk}/{action}/", data, **(HX if htmx else {}))
    assert r.status_code == 400
    html = r.content.decode()
    assert f"<b>{field}</b>" in html
    assert message in html
    assert ("<html" in html) is not htmx  # a dialog fragment for the console, a page otherwise
    assert snapshot(sos) == before


def test_a_step_in_the_wrong_state_is_a_409_with_the_reason(sos, login, operator):
    c = login(operator)
    before = snapshot(sos)
    r = c.post(f"/safety/incidents/{sos.pk}/dispatch/", {"target": "volunteer"}, **HX)
    assert r.status_code == 409
    assert "工单当前为“待接警”,不能派单" in r.content.decode()
    assert snapshot(sos) == before
    c.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    again = c.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    assert again.status_code == 409
    assert "不能接警" in again.content.decode()


def test_a_worker_of_another_community_cannot_be_dispatched(sos, login, operator, worker_a, worker_b):
    c = login(operator)
    c.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    form = c.get(f"/safety/incidents/{sos.pk}/dispatch/").content.decode()
    assert "社工甲" in form
    assert worker_b.full_name not in form
    before = snapshot(sos)
    r = c.post(f"/safety/incidents/{sos.pk}/dispatch/", {"target": "community_worker", "assignee": str(worker_b.pk)})
    assert r.status_code == 400
    assert "处置人不负责该老人所在村社" in r.content.decode()
    assert snapshot(sos) == before
    assert COMMUNITY_A in sos.area_path


def test_a_responder_is_offered_the_steps_once_dispatched(sos, login, operator, worker_a):
    op = login(operator)
    op.post(f"/safety/incidents/{sos.pk}/acknowledge/")
    w = login(worker_a)
    html = w.get(f"/safety/incidents/{sos.pk}/").content.decode()
    assert 'data-action="resolve"' not in html
    assert 'data-action="acknowledge"' not in html
    op = login(operator)
    op.post(f"/safety/incidents/{sos.pk}/dispatch/", {"target": "community_worker", "assignee": str(worker_a.pk)})
    html = login(worker_a).get(f"/safety/incidents/{sos.pk}/").content.decode()
    assert 'data-action="arrive"' in html
    assert 'data-action="resolve"' in html
    assert 'data-action="dispatch"' not in html
