"""Shared fixtures: staff in two sibling communities, persons in each, and service checks."""

from __future__ import annotations

import os
from collections.abc import Callable
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
