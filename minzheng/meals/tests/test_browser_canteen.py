"""A canteen operator serves a lunch queue on the canteen page in Chromium, at tablet size
(1024×768), with the keyboard only: scan → see the masked diner and the price line by line →
Enter → next diner. Started like the platform's browser tests (e2e/conftest.py): Debian's
Chromium through Playwright against pytest-django's live server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import COMMUNITY_A, STRONG_PASSWORD, new_tab
from minzheng.meals.models import MealService

FULL_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "e2e"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def tablet(chromium: Any) -> Any:
    """A 1024×768 tab: the canteen's tablet."""
    return new_tab(chromium, 1024, 768)


@pytest.mark.browser
@pytest.mark.urls("minzheng.meals.tests.urls")
@pytest.mark.django_db(transaction=True)
def test_operator_serves_a_queue_from_the_canteen_page(live_server: Any, tablet: Any, artifacts: Path,
                                                       site: Any, make_diner: Any, staff: Any) -> None:
    page = tablet
    first = make_diner(name="王秀英", birth="19450312", card="HZ3301100001")  # 80+: 7折, to be confirmed
    second = make_diner(name="李建国", birth="19560718", card="HZ3301100002")  # 60–79: 8折
    assert staff.operator.division_id == COMMUNITY_A
    base = live_server.url

    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill("chef_a")
    page.get_by_label("密码").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="助餐结算", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("助餐结算"))).to_be_visible()
    expect(page.locator(".till-slot")).to_contain_text("午餐")
    card_input = page.locator("#credential")
    expect(card_input).to_be_focused()

    # The card reader types the number and Enter.
    page.keyboard.type(first.card)
    page.keyboard.press("Enter")
    quote = page.locator("#panel .quote")
    expect(quote).to_contain_text("王*英")
    expect(quote).to_contain_text("80–89岁优惠 30%(7折)")
    expect(quote).to_contain_text("待民政局确认")
    expect(page.locator(".big-amt")).to_have_text("¥10.50")
    expect(page.locator("#confirm-button")).to_be_focused()
    page.keyboard.press("3")  # 微信
    expect(page.locator("input[name=method][value=wechat]")).to_be_checked()
    assert not overflows(page)
    page.screenshot(path=str(artifacts / "meals_canteen.png"))
    html = page.content()
    assert first.card not in html
    assert not FULL_ID.search(html)

    page.keyboard.press("Enter")
    done = page.locator("#panel .done")
    expect(done).to_contain_text("结算成功")
    expect(done).to_contain_text("微信")
    expect(page.locator("#recent")).to_contain_text("王*英")
    expect(page.locator("#totals")).to_contain_text("1 餐")
    page.screenshot(path=str(artifacts / "meals_canteen_done.png"))

    # Next diner straight away: the input has the focus again and is empty.
    expect(card_input).to_be_focused()
    expect(card_input).to_have_value("")
    page.keyboard.type(second.card)
    page.keyboard.press("Enter")
    expect(page.locator(".big-amt")).to_have_text("¥12.00")
    expect(page.locator("#confirm-button")).to_be_focused()
    page.keyboard.press("Enter")  # cash, the first method, is preselected
    expect(page.locator("#panel .done")).to_contain_text("现金")
    expect(page.locator("#totals")).to_contain_text("2 餐")

    # The first diner comes back for a second lunch: full price, said plainly.
    page.keyboard.type(first.card)
    page.keyboard.press("Enter")
    expect(page.locator("#panel .quote")).to_contain_text("已享受过一次优惠")
    expect(page.locator(".big-amt")).to_have_text("¥15.00")
    page.keyboard.press("Escape")
    expect(page.locator("#panel")).to_contain_text("已取消")
    expect(card_input).to_be_focused()

    meals = list(MealService.objects.order_by("id").values_list("self_pay_fen", "tenders", "channel"))
    assert meals == [(1050, {"wechat": 1050}, "page"), (1200, {"cash": 1200}, "page")]


def overflows(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))
