"""`make demo` binds the demo canteen operator to a point of its township, once."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, LIANGZHU
from minzheng.meals.models import PointOperator

pytestmark = pytest.mark.django_db


def test_the_demo_operator_works_at_a_point_of_its_township(make_staff: Any, make_site: Any) -> None:
    make_site("YH001", LIANGZHU)  # another township, first by code
    nearby = make_site("YH002", COMMUNITY_B)  # 五常街道, the operator's township
    make_staff(("district_admin",), DISTRICT, username="qu_admin")
    operator = make_staff(("canteen_operator",), COMMUNITY_A, username="canteen_op")
    call_command("meals_demo_operator")
    call_command("meals_demo_operator")
    assert list(PointOperator.objects.filter(staff=operator).values_list("point_id", flat=True)) == [nearby.point.pk]


def test_without_the_demo_accounts_nothing_happens(make_site: Any) -> None:
    make_site("YH001", COMMUNITY_A)
    call_command("meals_demo_operator")
    assert not PointOperator.objects.exists()
