"""A caseworker records a visit on a phone (390 × 844) in Chromium: plan → form → saved.

Like the project's e2e tests: Debian's Chromium through Playwright against pytest-django's live
server; transactional, so the project's ``flush`` restores the division tree after the test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import COMMUNITY_A, STRONG_PASSWORD, new_tab

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "e2e"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(chromium: Any) -> Any:
    """A caseworker's phone: 390×844 at 2× with touch."""
    return new_tab(chromium, PHONE["width"], PHONE["height"], device_scale_factor=2, is_mobile=True, has_touch=True)


def _enrol(person: Any) -> Any:
    from minzheng.assistance.domain import month_start
    from minzheng.assistance.models import Enrolment
    from minzheng.assistance.services.visits import visit_plan_generate

    enrolment = Enrolment.objects.create(
        program="dibao", person=person, household=person.household, division=person.division,
        area_path=person.area_path, township_code=person.area_path.split("/")[1],
        start_month=month_start(timezone.localdate()), monthly_fen=85_900, persons=1,
    )
    visit_plan_generate(actor=None, month=timezone.localdate())
    return enrolment


@pytest.mark.browser
@pytest.mark.urls("minzheng.assistance.tests.urls")
@pytest.mark.django_db(transaction=True)
def test_caseworker_records_a_visit_on_a_phone(
    live_server: Any, divisions: None, phone: Any, make_staff: Callable[..., Any], make_person: Callable[..., Any],
) -> None:
    from minzheng.assistance.models import HappinessDelivery, Visit, VisitTask
    from minzheng.core.models import AuditEvent
    from minzheng.people.services import household_create

    make_staff(("caseworker",), COMMUNITY_A, username="liqing", full_name="李青")
    elder = make_person("王秀英", COMMUNITY_A, birth="19440315", address="五常街道顾家桥路8号3幢201室",
                        living_arrangement="alone")

    class _Setup:
        pk, scope_path, username, role_codes, division_id, is_machine = 0, "330110000000/", "setup", (), "", False

        def has_permission(self, perm: str) -> bool:
            return True

    household_create(actor=_Setup(), head=elder)
    elder.refresh_from_db()
    _enrol(elder)
    page = phone
    base = live_server.url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    artifacts = ARTIFACTS

    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill("liqing")
    page.get_by_label("密码").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="您好,李青")).to_be_visible()

    page.goto(f"{base}/assistance/visits/")
    expect(page.get_by_role("heading", name="探访计划")).to_be_visible()
    expect(page.locator("#tasks")).to_contain_text("王秀英")
    assert not _overflows(page)
    page.locator("#tasks li", has_text="王秀英").get_by_role("link", name="记录探访").click()

    expect(page.get_by_role("heading", name="探访记录")).to_be_visible()
    form = page.locator("#visit-form")
    form.get_by_label("入户").check()
    form.get_by_label("存在风险(需跟进)").check()
    form.get_by_label("探访情况").fill("独居,血压偏高,近一周未按时服药;家中冰箱食物不足。")
    form.get_by_label("就医").check()
    form.get_by_label("助餐", exact=True).check()
    form.get_by_label("需求说明").fill("希望有人陪同到社区卫生服务站复诊")
    form.get_by_label("跟进事项").fill("联系社区医生上门随访,申请助餐服务")
    form.get_by_label("跟进期限").fill(timezone.localdate().isoformat())
    form.get_by_label("本次送达本季度“幸福清单”").check()
    assert not _overflows(page)
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar would otherwise sit mid-page in the shot
    page.screenshot(path=str(artifacts / "assistance_visit.png"), full_page=True)

    page.get_by_role("button", name="保存探访记录").click()
    expect(page.locator(".flash")).to_contain_text("已记录对 王秀英 的探访")
    expect(page.locator("#tasks li", has_text="王秀英")).to_contain_text("已探访")
    assert not _overflows(page)
    page.screenshot(path=str(artifacts / "assistance_visit_saved.png"), full_page=True)

    visit = Visit.objects.get()
    assert (visit.place, visit.finding, visit.needs) == ("home", "at_risk", ["meals", "medical"])
    assert visit.recorded_by_name == "liqing"
    assert visit.happiness_delivered
    assert VisitTask.objects.get(person=elder).status == "done"
    assert HappinessDelivery.objects.filter(enrolment__person=elder).count() == 1
    assert AuditEvent.objects.filter(event_type="assistance.visit.record", actor_username="liqing").count() == 1


def _overflows(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))
