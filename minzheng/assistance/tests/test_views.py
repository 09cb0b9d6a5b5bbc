"""Every 精准救助 screen: who may open it (anonymous / no permission / other area / allowed), that it
renders for the allowed, that forms refuse bad input with the field's message and write nothing."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from openpyxl import load_workbook

from minzheng.assistance.models import Visit, VisitTask
from minzheng.assistance.services import payroll as p
from minzheng.assistance.services import visits as v
from minzheng.assistance.tests.conftest import approve_dibao, submit_dibao

pytestmark = pytest.mark.urls("minzheng.assistance.tests.urls")
FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")


@pytest.fixture
def world(staff, family, travel):
    travel(date(2024, 9, 2))
    people = family([("head", "19600101"), ("spouse", "19620101")])
    app = approve_dibao(staff, submit_dibao(staff, people, incomes=[800, 0]), travel, date(2024, 9, 3))
    pending = family([("head", "19550505")])
    app2 = submit_dibao(staff, pending, incomes=[500])
    travel(date(2024, 10, 8))
    p.fund_allocate(actor=staff.district, amount_fen=10**8, key="t")
    p.period_close(actor=staff.district, month="2024-10")
    roll = p.payroll_create(actor=staff.district, month="2024-10")
    p.payroll_freeze(actor=staff.district, roll=roll)
    v.visit_plan_generate(actor=None, month="2024-10")
    return {"people": people, "app": app, "app2": app2, "roll": roll, "enrolment": app.enrolments.get()}


def test_every_screen_renders_for_the_district(world, login, staff):
    c = login(staff.district)
    pages = ["/assistance/", "/assistance/applications/", f"/assistance/applications/{world['app'].uid}/",
             "/assistance/enrolments/", f"/assistance/enrolments/{world['enrolment'].uid}/", "/assistance/payroll/",
             f"/assistance/payroll/{world['roll'].uid}/", "/assistance/compliance/", "/assistance/coverage/",
             "/assistance/outreach/", "/assistance/whatif/", "/assistance/rescues/", "/assistance/projects/",
             "/assistance/housing/"]
    for url in pages:
        r = c.get(url)
        assert r.status_code == 200, url
        assert not FULL_ID.search(r.content.decode()), url


def test_frontline_screens(world, login, staff):
    c = login(staff.caseworker_a)
    r = c.get("/assistance/visits/")
    assert r.status_code == 200
    assert world["people"][0].name in r.content.decode()
    assert c.get(f"/assistance/visits/{world['people'][0].uid}/new/").status_code == 200


def test_anonymous_is_sent_to_login_and_the_unpermitted_are_refused(world, client, login, staff):
    r = client.get("/assistance/payroll/")
    assert r.status_code == 302
    assert "/login/" in r["Location"]
    c = login(staff.worker_a)
    for url in ("/assistance/payroll/", "/assistance/whatif/", f"/assistance/payroll/{world['roll'].uid}/bank.xlsx"):
        assert c.get(url).status_code == 403, url
    before = VisitTask.objects.count()
    assert c.post(f"/assistance/payroll/{world['roll'].uid}/approve/").status_code == 403
    assert VisitTask.objects.count() == before


def test_a_sibling_community_gets_404_for_detail_pages(world, login, staff):
    c = login(staff.worker_b)
    for url in (f"/assistance/applications/{world['app'].uid}/", f"/assistance/enrolments/{world['enrolment'].uid}/",
                f"/assistance/visits/{world['people'][0].uid}/new/"):
        r = c.get(url)
        assert r.status_code == 404, url
        assert world["people"][0].name not in r.content.decode()
    assert world["people"][0].name not in c.get("/assistance/applications/").content.decode()
    assert c.get("/assistance/applications/not-a-uuid/").status_code == 404


def test_visit_form_records_and_refuses_bad_input(world, login, staff, travel):
    travel(date(2024, 10, 9), hour=15)
    c = login(staff.caseworker_a)
    url = f"/assistance/visits/{world['people'][0].uid}/new/"
    bad = c.post(url, {"visited_at": "2024-10-09T14:00", "place": "home", "finding": "stable", "findings": ""})
    assert bad.status_code == 400
    assert "请填写探访情况" in bad.content.decode()
    assert Visit.objects.count() == 0
    future = c.post(url, {"visited_at": "2024-10-10T14:00", "place": "home", "finding": "stable", "findings": "身体状况良好"})
    assert future.status_code == 400
    assert "不能晚于现在" in future.content.decode()
    ok = c.post(url, {"visited_at": "2024-10-09T14:00", "place": "home", "finding": "stable", "findings": "身体状况良好,按时服药",
                      "needs": ["medical", "meals"], "follow_up": "联系社区医生", "follow_up_due": "2024-10-20", "happiness": "on"})
    assert ok.status_code == 302
    visit = Visit.objects.get()
    assert visit.needs == ["meals", "medical"]
    assert visit.happiness_delivered
    assert VisitTask.objects.get(person=world["people"][0], month=date(2024, 10, 1)).status == "done"


def test_publicity_export_masks_names_and_ids(world, login, staff, travel):
    from minzheng.assistance.services import applications as s

    app2 = world["app2"]
    travel(date(2024, 10, 9))
    s.application_investigate(actor=staff.worker_a, application=app2, visited_on=date(2024, 10, 9),
                              findings="入户调查属实,独居无收入来源", recommends=True)
    s.application_publicize(actor=staff.worker_a, application=app2)
    c = login(staff.worker_a)
    r = c.get("/assistance/applications/publicity.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    cells = [str(cell.value) for row in ws.iter_rows() for cell in row if cell.value is not None]
    name = app2.applicant.name
    assert f"{name[0]}*{name[-1]}" in cells
    assert name not in cells
    assert app2.applicant.id_masked in cells
    assert not any(FULL_ID.search(x) or re.search(r"\d{12,}", x) for x in cells)


def test_person_page_panel_shows_enrolment_payments_and_visits(world, staff, rf):
    from django.template.loader import render_to_string

    from minzheng.assistance.panels import assistance_panel

    person = world["people"][0]
    data = assistance_panel(staff.district, person)
    html = render_to_string("assistance/panel.html", {"panel": data, "person": person})
    assert "低保" in html
    assert "1,718.00" in html
    assert assistance_panel(staff.worker_b, person)["empty"]  # another community sees nothing of it


def _routes():
    from django.urls import URLResolver, get_resolver

    from minzheng.assistance.tests import urls as test_urls

    for entry in get_resolver(test_urls).url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "assistance":
            yield from entry.url_patterns


def _fill(pattern, world) -> str:
    from django.urls import reverse

    kwargs = {}
    for name in pattern.pattern.converters:
        kwargs[name] = {"uid": str(world["app"].uid)}.get(name, "approve")
    route = str(pattern.pattern)
    if "uid" in kwargs:
        if route.startswith("enrolments"):
            kwargs["uid"] = str(world["enrolment"].uid)
        elif route.startswith("payroll"):
            kwargs["uid"] = str(world["roll"].uid)
        elif route.startswith(("visits", "applications/new")):
            kwargs["uid"] = str(world["people"][0].uid)
    return reverse(f"assistance:{pattern.name}", kwargs=kwargs)


def _text(response) -> str:
    """What a caller can read in a response: the page, or every cell of a spreadsheet download."""
    if response.get("Content-Type", "").startswith("application/vnd.openxmlformats"):
        import io

        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(response.content), read_only=True)
        return " ".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row)
    return response.content.decode()


def test_every_route_answers_without_a_500_for_every_kind_of_caller(world, client, login, make_staff):
    """Anonymous → login; a role without the grant (助餐点操作员) → 403; a sibling community → never
    a 500 and never the other community's data; the district → a page, a redirect or a clear refusal."""
    outsider = make_staff(("canteen_operator",), "330110005001", username="canteen")
    sibling = make_staff(("community_worker", "caseworker"), "330110005002", username="sibling")
    district = make_staff(("district_admin",), "330110000000", username="district_x")
    name = world["people"][0].name
    for pattern in _routes():
        url = _fill(pattern, world)
        client.logout()
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code in (302, 405), (url, method, r.status_code)
            if r.status_code == 302:
                assert "/login/" in r["Location"], url
        login(outsider)
        assert client.get(url).status_code in (403, 405), url
        login(sibling)
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code < 500, (url, method)
            assert name not in _text(r) or r.status_code == 302, (url, method)
        login(district)
        for method in ("get", "post"):
            r = getattr(client, method)(url)
            assert r.status_code < 500, (url, method)
