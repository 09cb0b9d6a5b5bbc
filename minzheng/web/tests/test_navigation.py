"""The menu lights exactly one entry: the one whose address is the longest prefix of the page's."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import DISTRICT
from minzheng.web.navigation import menu_for

pytestmark = pytest.mark.django_db


def _active(user: Any, path: str) -> list[str]:
    return [i["label"] for g in menu_for(user, path) for i in g["items"] if i["active"]]


def test_one_entry_is_active_even_under_a_shorter_entry(make_staff: Any) -> None:
    from django.urls import reverse

    staff = make_staff(("district_admin",), DISTRICT, username="nav_admin")
    people = reverse("web:person-list")
    create = reverse("web:person-create")
    assert create.startswith(people)  # /people/new/ lies under /people/
    assert _active(staff, create) == ["新增人员"]
    assert _active(staff, people) == ["人员查询"]
    assert _active(staff, people + "some-uid/") == ["人员查询"]
    assert _active(staff, "/") == ["首页"]
