"""A monitoring operator works the 24-hour console in Chromium with the keyboard only: an SOS
raised while the console is open appears without a reload (htmx polling), highlighted and with a
beep; the operator acknowledges (a), records a call (c), dispatches the community worker (d) and
resolves (r), and the incident ends resolved in the database. Started like the platform's browser
tests (e2e/conftest.py, meals' canteen test): Debian's Chromium through Playwright against
pytest-django's live server."""

from __future__ import annotations

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import STRONG_PASSWORD, new_tab
from minzheng.safety.models import ActivityHourly, Incident
from minzheng.safety.services import CareCheck, care_check_open

FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
SHOTS = Path(os.environ.get("MINZHENG_SCREENSHOTS") or tempfile.gettempdir())  # /tmp/safety_*.png


@pytest.fixture
def screen(chromium: Any) -> Any:
    """A 1440×900 tab, the size of a monitoring-centre desk screen."""
    return new_tab(chromium, 1440, 900)


def a_day_of_activity(home: Any) -> None:
    """Two days of hourly activity for the home card's chart (what ingestion aggregates)."""
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    rows = []
    for h in range(48):
        hour = end - timedelta(hours=h)
        local = timezone.localtime(hour).hour
        awake = 6 <= local <= 21
        rows.append(ActivityHourly(home=home, hour=hour, motion=(8 + h % 5) if awake else (1 if h % 3 == 0 else 0),
                                   door=(2 if local in (7, 9, 16, 18) else 0), water_l=(6.5 if local in (7, 12, 18) else 0),
                                   events=10 if awake else 1))
    ActivityHourly.objects.bulk_create(rows)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_operator_handles_a_new_sos_from_the_keyboard(live_server: Any, screen: Any, divisions: None,
                                                      operator: Any, worker_a: Any, home_a: Any, home_b: Any,
                                                      elder_b: Any, sender: Any) -> None:
    page = screen
    home = home_a[0]
    a_day_of_activity(home)
    base = live_server.url
    # Already on the board: an overdue SOS in the sibling community and a care check.
    sender.one("SOS-B", "sos", 1, timezone.now() - timedelta(minutes=3), gateway="GW-B")
    care_check_open(check=CareCheck(person_id=elder_b.pk, division_id=elder_b.division_id,
                                    area_path=home_b[0].area_path, source="meals", kind="stopped_coming",
                                    reason="常来助餐的老人连续5天未就餐"), at=timezone.now() - timedelta(hours=5))

    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill("duty1")
    page.get_by_label("密码").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="安居守护 · 监控台").click()
    expect(page.get_by_role("heading", name="安居守护 · 24小时监控台")).to_be_visible()
    expect(page.locator("#board tr[data-id]")).to_have_count(2)
    page.evaluate("window.__noReload = true")

    # An SOS comes in through the one ingestion path while the console is open.
    sender.one("SOS-A", "sos", 1, timezone.now())
    incident = Incident.objects.get(alarm_type="sos", home=home)
    row = page.locator(f"#inc-{incident.pk}")
    expect(row).to_be_visible(timeout=12_000)
    assert page.evaluate("window.__noReload") is True  # no reload: the board was polled
    expect(row).to_have_class(re.compile(r"\bfresh\b"))
    expect(row).to_have_class(re.compile(r"\bsel\b"))
    expect(row).to_contain_text("王*英")
    expect(row).to_contain_text("待接警")
    expect(page.locator("#sc-counts")).to_contain_text("紧急 2")
    expect(page.locator("#board tr[data-id]")).to_have_count(3)
    assert page.evaluate("window.safetyConsole.beeps") >= 1
    html = page.content()
    assert "王秀英" not in html
    assert not FULL_ID.search(html)
    page.screenshot(path=str(SHOTS / "safety_console.png"))

    # a: acknowledge.
    page.keyboard.press("a")
    expect(row).to_contain_text("已接警")
    expect(page.locator("#sc-toast")).to_contain_text("接警完成")

    # c: record a call: the elder (preselected), Tab to the result, 3 = no answer, Enter.
    page.keyboard.press("c")
    dialog = page.locator("#sc-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("记录通话")
    expect(page.locator("input[name=party][value=elder]")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("3")
    expect(page.locator("input[name=result][value=no_answer]")).to_be_checked()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("核实中")

    # d: dispatch. Enter without a choice is refused, naming the field; 1 = community worker.
    page.keyboard.press("d")
    expect(dialog).to_contain_text("派单对象")
    expect(dialog.locator("select[name=assignee]")).to_contain_text("社工甲")
    expect(dialog.locator("input[name=target]").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog.locator(".error")).to_contain_text("派单对象:请选择派单对象")
    expect(dialog.locator("input[name=target]").first).to_be_focused()
    assert Incident.objects.get(pk=incident.pk).state == "verifying"
    page.keyboard.press("3")  # 120 first: nobody is proposed as the assignee
    expect(dialog.locator("select[name=assignee]")).to_have_value("")
    page.keyboard.press("1")  # community worker: the community's own worker is proposed
    expect(page.locator("input[name=target][value=community_worker]")).to_be_checked()
    expect(dialog.locator("select[name=assignee]")).to_have_value(str(worker_a.pk))
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("已派单")
    expect(row).to_contain_text("社工甲")
    page.screenshot(path=str(SHOTS / "safety_console_dispatched.png"))

    # r: resolve with an outcome code; 1 = assisted.
    page.keyboard.press("r")
    expect(dialog).to_contain_text("处置结果")
    expect(dialog).to_contain_text("误报:误按/误触")
    expect(dialog.locator("input[name=outcome]").first).to_be_focused()
    page.screenshot(path=str(SHOTS / "safety_console_resolve_dialog.png"))
    page.keyboard.press("1")
    page.keyboard.press("Tab")
    page.keyboard.type("社工上门, 老人无碍")
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(row).to_have_count(0)  # resolved: no longer on the open board
    expect(page.locator("#board tr[data-id]")).to_have_count(2)
    assert page.evaluate("window.__noReload") is True

    done = Incident.objects.get(pk=incident.pk)
    assert (done.state, done.outcome, done.acked_by_id, done.assignee_id) == (
        "resolved", "assisted", operator.pk, worker_a.pk)
    assert done.outcome_note == "社工上门, 老人无碍"

    # The incident page: timeline and the home card with 48 h of activity.
    page.goto(f"{base}/safety/incidents/{incident.pk}/")
    expect(page.locator("#home-card")).to_contain_text("138****5678")
    expect(page.locator(".sc-timeline")).to_contain_text("派单")
    expect(page.locator("#activity-chart canvas")).to_have_count(1)
    assert not FULL_ID.search(page.content())
    assert not page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    page.screenshot(path=str(SHOTS / "safety_home_card.png"), full_page=True)

    # The shift handover and the reports, as the operator reaches them from the menu.
    page.get_by_role("link", name="安居守护 · 交接班").click()
    expect(page.get_by_role("heading", name="安居守护 · 交接班")).to_be_visible()
    expect(page.locator("main")).to_contain_text(incident.code)
    page.screenshot(path=str(SHOTS / "safety_handover.png"), full_page=True)
    page.get_by_role("link", name="安居守护 · 统计报表").click()
    expect(page.get_by_role("heading", name="安居守护 · 统计报表")).to_be_visible()
    expect(page.locator("#daily-chart canvas")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "safety_metrics.png"), full_page=True)
