"""A community worker signs in, finds a resident and opens the file: masked ID only, and the
sibling community's residents stay invisible (DESIGN §5, §6; security AC-2, A10)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from playwright.sync_api import expect

from conftest import COMMUNITY_A, COMMUNITY_B, STRONG_PASSWORD, synthetic_id

MASKED_ID = re.compile(r"\d{6}\*{8}\d{3}[\dX]")
FULL_ID = re.compile(r"\d{17}[\dXx]")
WANG_ID = synthetic_id(birth="19400315", seq=322)  # even sequence: a woman
SIBLING_ID = synthetic_id(birth="19410705", seq=432)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_worker_finds_a_person_and_sees_only_the_masked_id(
    live_server: Any, divisions: None, page: Any, artifacts: Path, make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
) -> None:
    make_staff(("community_worker",), COMMUNITY_A, username="wangfang", full_name="王芳")
    wang = make_person("王秀英", COMMUNITY_A, id_number=WANG_ID, phones=["13912345678"],
                       address="五常街道顾家桥路8号3幢201室", living_arrangement="alone", health_flags=["chronic"])
    make_person("王建国", COMMUNITY_A, id_number=synthetic_id(birth="19450808", seq=511))
    make_person("王丽华", COMMUNITY_A, id_number=synthetic_id(birth="19520212", seq=624))
    make_person("张建华", COMMUNITY_A, id_number=synthetic_id(birth="19500505", seq=733))
    make_person("王秀兰", COMMUNITY_B, id_number=SIBLING_ID)  # 沿山河社区: another worker's area
    base = live_server.url

    page.goto(f"{base}/login/")
    expect(page.get_by_role("heading", name="余杭区民政综合服务平台")).to_be_visible()
    page.screenshot(path=str(artifacts / "login.png"), full_page=True)
    page.get_by_label("用户名").fill("wangfang")
    page.get_by_label("密码").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="您好,王芳")).to_be_visible()

    page.get_by_role("link", name="人员查询").click()
    search(page, "王")
    expect(page.locator(".resultbar")).to_contain_text("共 3 人")
    results = page.locator("#results tbody")
    for name in ("王秀英", "王建国", "王丽华"):
        expect(results.get_by_role("link", name=name)).to_be_visible()
    expect(results).not_to_contain_text("王秀兰")
    for cell in page.locator("#results td.mono").all_inner_texts():
        assert MASKED_ID.fullmatch(cell.strip()), cell
    assert not FULL_ID.search(page.content())
    page.screenshot(path=str(artifacts / "search_results.png"), full_page=True)
    assert not overflows(page)

    for query in ("王秀兰", "wxl", SIBLING_ID):
        search(page, query)
        expect(page.locator(".resultbar")).to_contain_text("共 0 人")
        expect(page.get_by_text("没有符合条件的人员")).to_be_visible()
        assert not FULL_ID.search(page.content())

    search(page, "wxy")
    expect(page.locator(".resultbar")).to_contain_text("共 1 人")
    page.locator("#results").get_by_role("link", name="王秀英").click()
    expect(page.get_by_role("heading", name=re.compile("王秀英"))).to_be_visible()
    id_cell = page.locator("#id_number")
    expect(id_cell).to_have_text(MASKED_ID)
    assert id_cell.inner_text() == wang.id_masked
    expect(page.get_by_role("heading", name="基本信息")).to_be_visible()
    expect(page.get_by_role("heading", name="家庭成员")).to_be_visible()
    html = page.content()
    assert WANG_ID not in html
    assert not FULL_ID.search(html)
    page.screenshot(path=str(artifacts / "person_page.png"), full_page=True)
    assert not overflows(page)

    # Caseworkers open the same page on a phone: nothing may spill sideways, the reveal form included.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="查看完整号码").first.click()
    reveal = page.locator("#reveal-id_number")
    expect(reveal).to_be_visible()
    assert not overflows(page)
    page.screenshot(path=str(artifacts / "person_page_phone.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 860})

    # Revealing goes through htmx with the CSRF header, asks for a reason and is audited.
    reveal.get_by_placeholder("查看原因(将记入审计日志)").fill("核对高龄津贴申请")
    reveal.get_by_role("button", name="确认查看").click()
    expect(page.locator(".revealed")).to_contain_text(WANG_ID)
    audit = apps.get_model("core", "AuditEvent").objects.filter(event_type="person.reveal")
    assert list(audit.values_list("actor_username", "reason")) == [("wangfang", "核对高龄津贴申请")]


def overflows(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def search(page: Any, query: str) -> None:
    box = page.locator("input[name=q]")
    box.fill(query)
    with page.expect_response(lambda r: "/people/?" in r.url and r.request.headers.get("hx-request") == "true"):
        page.get_by_role("button", name="查询").click()
