"""Shared fixtures: staff in two sibling communities, persons in each, and service checks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from hypothesis import settings as hypothesis_settings

REQUIRE_SERVICES = os.environ.get("MINZHENG_REQUIRE_SERVICES") == "1"

# This machine is shared and noisy: no per-example deadline; derandomised under CI so a red run
# can be reproduced exactly.
hypothesis_settings.register_profile("minzheng", deadline=None, derandomize=bool(os.environ.get("CI")))
hypothesis_settings.load_profile("minzheng")

# Two sibling communities of 五常街道, and a community in another township.
WUCHANG = "330110005000"
COMMUNITY_A = "330110005001"  # 顾家桥社区
COMMUNITY_B = "330110005002"  # 沿山河社区
LIANGZHU = "330110010000"
DISTRICT = "330110000000"
STRONG_PASSWORD = "Civil-Affairs#2024"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql" and not REQUIRE_SERVICES:
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... to run"))


@pytest.fixture
def require_postgres() -> None:
    if connection.vendor != "postgresql":
        if REQUIRE_SERVICES:
            pytest.fail("MINZHENG_REQUIRE_SERVICES=1 but the test database is not PostgreSQL")
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... to run")


REDIS_URL = os.environ.get("MINZHENG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def require_redis() -> str:
    """A Redis URL for the test (a database of its own, 15 by default); skipped without a Redis
    server, a failure under MINZHENG_REQUIRE_SERVICES=1."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"MINZHENG_REQUIRE_SERVICES=1 but Redis at {REDIS_URL} is not answering: {exc}")
        pytest.skip(f"needs Redis at {REDIS_URL} (MINZHENG_TEST_REDIS_URL)")
    return REDIS_URL


@pytest.fixture
def make_staff(db: Any) -> Callable[..., Any]:
    from minzheng.accounts.services import staff_create

    counter = {"n": 0}

    def make(roles: tuple[str, ...] | list[str] = ("community_worker",), division: str = COMMUNITY_A,
             username: str | None = None, password: str = STRONG_PASSWORD, **kw: Any) -> Any:
        counter["n"] += 1
        staff = staff_create(
            actor=None,
            username=username or f"staff{counter['n']}",
            full_name=kw.pop("full_name", f"测试员{counter['n']}"),
            division_code=division,
            password=password,
            roles=list(roles),
            **kw,
        )
        return staff

    return make


def synthetic_id(birth: str = "19500101", seq: int = 901, region: str = "339901") -> str:
    """A valid ID number in the synthetic space (city code 99 does not exist)."""
    from minzheng.core.identifiers import check_digit

    first17 = f"{region}{birth}{seq:03d}"
    return first17 + check_digit(first17)


@pytest.fixture
def make_person(db: Any) -> Callable[..., Any]:
    from minzheng.people.services import person_create

    counter = {"n": 0}

    class _District:
        pk = 0
        scope_path = f"{DISTRICT}/"
        username = "fixture"
        role_codes = ("district_admin",)
        division_id = DISTRICT
        is_machine = False

        def has_permission(self, perm: str) -> bool:
            return True

    def make(name: str = "张三", division: str = COMMUNITY_A, birth: str = "19500101", **data: Any) -> Any:
        counter["n"] += 1
        data.setdefault("id_number", synthetic_id(birth=birth, seq=100 + counter["n"]))
        data.setdefault("phones", [f"1380000{counter['n']:04d}"])
        return person_create(actor=_District(), data={"name": name, "division_code": division, **data})

    return make


@pytest.fixture
def login(client: Any) -> Callable[[Any], Any]:
    """Sign a member of staff into the test client (past the second factor)."""
    import time

    def do(staff: Any) -> Any:
        client.force_login(staff)
        session = client.session
        session["mz_auth_at"] = time.time()
        session.save()
        return client

    return do


# --- Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server ---

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def divisions(transactional_db: Any) -> None:
    """The division tree. The live server needs committed data, so browser tests are transactional;
    the project's ``flush`` (minzheng.synth) restores the tree after each one, and this reloads it
    should a flush elsewhere have left it empty."""
    from minzheng.divisions.selectors import division_list
    from minzheng.divisions.services import division_load_csv

    if not division_list(within="").exists():
        division_load_csv()


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The browser; skipped without /usr/bin/chromium, a failure under MINZHENG_REQUIRE_SERVICES=1.

    Playwright's sync API keeps an event loop in the test thread, where Django's ORM would refuse
    to run: the async-safety check is lifted for the browser tests only."""
    if not CHROMIUM.exists():
        if REQUIRE_SERVICES:
            pytest.fail(f"MINZHENG_REQUIRE_SERVICES=1 but {CHROMIUM} is missing (make browser installs it)")
        pytest.skip(f"needs Chromium at {CHROMIUM}: run `make browser` (apt-get install chromium fonts-noto-cjk)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                    env={**os.environ, "LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"})
        try:
            yield browser
        finally:
            browser.close()
            # While Playwright's loop runs, Django hands the test its own connection (asgiref's
            # Local follows the running loop); close it here, where it is visible, or PostgreSQL
            # keeps the session and the test database cannot be dropped at the end of the run.
            connections.close_all()


def new_tab(browser: Any, width: int, height: int, **options: Any) -> Any:
    """A Chinese-locale tab of ``width``×``height`` in Shanghai time (closed with the browser)."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN",
                                  timezone_id="Asia/Shanghai", **options)
    context.set_default_timeout(15_000)
    return context.new_page()
