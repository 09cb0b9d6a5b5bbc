"""In Chromium: a full ID number typed into the search box never appears in a request URL, and a
bulk export goes request → 街道 approval → one download (security A10, AC-5, A13). Started like the
platform's browser tests (e2e/conftest.py): Debian's Chromium through Playwright against
pytest-django's live server. Screenshots go to $MINZHENG_SCREENSHOTS or the temp dir (ac5_*.png)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from playwright.sync_api import expect

from conftest import COMMUNITY_A, COMMUNITY_B, STRONG_PASSWORD, WUCHANG, new_tab, synthetic_id

SHOTS = Path(os.environ.get("MINZHENG_SCREENSHOTS") or tempfile.gettempdir())
WANG_ID = synthetic_id(birth="19400315", seq=324)
DIGITS = re.compile(r"\d{5,}")


def _name(i: int) -> str:
    return "王李张刘陈杨黄赵吴周"[i % 10] + "春夏秋冬松竹梅兰菊桂荷"[i // 10] + "明华英芳军平安宁静文"[i % 10]


def _signed_in(browser: Any, base: str, username: str) -> Any:
    page = new_tab(browser, 1366, 860, accept_downloads=True)
    page.goto(f"{base}/login/")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(STRONG_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name=re.compile("您好"))).to_be_visible()
    return page


def _overflows(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_id_search_is_posted_and_a_bulk_export_is_approved_once(
    live_server: Any, divisions: None, chromium: Any, make_staff: Callable[..., Any],
    make_person: Callable[..., Any],
) -> None:
    make_staff(("community_worker",), COMMUNITY_A, username="wangfang", full_name="王芳")
    make_staff(("township_staff",), WUCHANG, username="jiedao", full_name="陈街道")
    make_person("王秀英", COMMUNITY_A, id_number=WANG_ID, phones=["13912345678"])
    for i in range(100):
        make_person(_name(i), COMMUNITY_A, birth=f"19{40 + i % 40}0101")
    make_person("李秀兰", COMMUNITY_B)
    base = live_server.url

    # --- A full ID number typed into the search box travels only in a POST body ---------------
    worker = _signed_in(chromium, base, "wangfang")
    requests: list[Any] = []
    worker.on("request", lambda r: requests.append(r))
    worker.get_by_role("link", name="人员查询").click()
    box = worker.locator("input[name=q]")
    box.fill(WANG_ID)
    with worker.expect_response(lambda r: r.request.method == "POST" and "/people/" in r.url):
        worker.get_by_role("button", name="查询").click()
    expect(worker.locator(".resultbar")).to_contain_text("共 1 人")
    expect(worker.locator("#results").get_by_role("link", name="王秀英")).to_be_visible()
    box.press_sequentially("3", delay=20)  # typing on: the live search fires again, still by POST
    worker.wait_for_timeout(600)
    searched = [r for r in requests if "/people/" in r.url and r.headers.get("hx-request") == "true"]
    assert searched and all(r.method == "POST" for r in searched)
    assert [r.url for r in requests if WANG_ID in r.url or DIGITS.search(urlsplit(r.url).query)] == []
    assert WANG_ID not in worker.url
    assert any(WANG_ID in (r.post_data or "") for r in searched)
    # A name still searches by GET (and can be linked)
    box.fill("王")
    with worker.expect_response(lambda r: "/people/?" in r.url and r.request.method == "GET"):
        worker.get_by_role("button", name="查询").click()
    expect(worker.locator(".resultbar")).to_contain_text("共 11 人")

    # --- 101 rows: the export asks for an approval ---------------------------------------------
    worker.goto(f"{base}/people/")
    expect(worker.locator(".resultbar")).to_contain_text("共 101 人")
    worker.get_by_role("link", name="导出Excel").click()
    expect(worker.get_by_role("heading", name="批量导出须经审批")).to_be_visible()
    expect(worker.locator(".flash")).to_contain_text("导出 101 条超过 100 条")
    assert not _overflows(worker)
    worker.screenshot(path=str(SHOTS / "ac5_request_form.png"), full_page=True)
    worker.get_by_label("导出理由").fill("年度高龄津贴发放名单核对")
    worker.get_by_role("button", name="提交导出申请").click()
    expect(worker.locator(".flash")).to_contain_text("导出申请已提交")
    expect(worker.locator(".export-gate")).to_contain_text("等待街道或区级审批")
    worker.screenshot(path=str(SHOTS / "ac5_request_pending.png"), full_page=True)

    # --- The 街道 approves from its queue -------------------------------------------------------
    approver = _signed_in(chromium, base, "jiedao")
    approver.get_by_role("link", name="批量导出审批").click()
    expect(approver.get_by_role("heading", name="批量导出审批")).to_be_visible()
    row = approver.locator("table.grid tbody tr").first
    expect(row).to_contain_text("wangfang")
    expect(row).to_contain_text("年度高龄津贴发放名单核对")
    expect(row).to_contain_text("101")
    assert not _overflows(approver)
    approver.screenshot(path=str(SHOTS / "ac5_queue.png"), full_page=True)
    row.get_by_role("button", name="批准").click()
    expect(approver.locator(".flash")).to_contain_text("已批准 wangfang 导出 101 条")
    expect(approver.get_by_text("没有待审批的导出申请")).to_be_visible()
    approver.screenshot(path=str(SHOTS / "ac5_queue_done.png"), full_page=True)

    # --- The worker downloads it once -------------------------------------------------------------
    worker.goto(f"{base}/people/?status=active&export=approval")
    expect(worker.locator(".export-gate")).to_contain_text("已批准")
    worker.screenshot(path=str(SHOTS / "ac5_request_approved.png"), full_page=True)
    with worker.expect_download() as download:
        worker.get_by_role("link", name="导出Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    worker.get_by_role("link", name="导出Excel").click()
    expect(worker.locator(".flash")).to_contain_text("须经街道或区级审批")
    records = apps.get_model("people", "ExportRecord").objects
    assert list(records.values_list("rows", flat=True)) == [101]
