"""Fixtures of the people tests: staff at each level, and one resident in each sibling community."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from minzheng.people.tests.data import (
    ADDRESS_B,
    COMMUNITY_A,
    COMMUNITY_B,
    DISTRICT,
    ID_A,
    ID_B,
    LIANGZHU,
    PHONE_A,
    PHONE_B,
    WUCHANG,
)


@pytest.fixture
def worker_a(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["community_worker"], division=COMMUNITY_A, username="worker_a")


@pytest.fixture
def township(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["township_staff"], division=WUCHANG, username="wuchang")


@pytest.fixture
def liangzhu(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["township_staff"], division=LIANGZHU, username="liangzhu")


@pytest.fixture
def district(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["district_admin"], division=DISTRICT, username="quji")


@pytest.fixture
def person_a(make_person: Callable[..., Any]) -> Any:
    return make_person(name="张三", division=COMMUNITY_A, id_number=ID_A, phones=[PHONE_A])


@pytest.fixture
def person_b(make_person: Callable[..., Any]) -> Any:
    return make_person(
        name="李四", division=COMMUNITY_B, id_number=ID_B, phones=[PHONE_B], address=ADDRESS_B
    )
