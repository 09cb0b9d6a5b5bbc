"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

They skip when /usr/bin/chromium is missing, and fail instead under MINZHENG_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"


@pytest.fixture
def divisions(transactional_db: Any) -> None:
    """The division tree. The live server needs committed data, so these tests are transactional;
    the project's ``flush`` (minzheng.synth) restores the tree after each one, and this reloads it
    should a flush elsewhere have left it empty."""
    from minzheng.divisions.selectors import division_list
    from minzheng.divisions.services import division_load_csv

    if not division_list(within="").exists():
        division_load_csv()


@pytest.fixture
def async_unsafe_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playwright's sync API keeps an event loop in the test thread; Django's ORM would then refuse
    to run there. Allowed for the browser tests only, not for the whole session."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def chromium(async_unsafe_allowed: None) -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("MINZHENG_REQUIRE_SERVICES") == "1":
            pytest.fail(f"MINZHENG_REQUIRE_SERVICES=1 but {CHROMIUM} is missing (make browser installs it)")
        pytest.skip(f"needs Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium fonts-noto-cjk)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 860}, locale="zh-CN",
                                   timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
        # While Playwright's loop runs, Django hands the test its own connection (asgiref's Local
        # follows the running loop); close it here, where it is visible, or PostgreSQL keeps the
        # session and the test database cannot be dropped at the end of the run.
        connections.close_all()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
