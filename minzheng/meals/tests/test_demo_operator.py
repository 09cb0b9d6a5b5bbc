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


def test_the_demo_point_gets_recent_meals_through_the_real_checkout_once(
        make_staff: Any, make_site: Any, make_diner: Any, staff: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from minzheng.ledger.selectors import trial_balance
    from minzheng.meals.models import MealService
    from minzheng.meals.services.points import operator_assign

    site = make_site("YH001", COMMUNITY_A)  # lunch open all day
    operator_assign(actor=staff.district, point=site.point,
                    staff=make_staff(("canteen_operator",), COMMUNITY_A, username="canteen_op"))
    diners = [make_diner(name=n, birth=b) for n, b in (("王秀英", "19500101"), ("李建国", "19400101"), ("张丽华", "19550101"))]
    call_command("meals_demo_recent", "--days", "3")
    meals = list(MealService.objects.filter(point=site.point))
    today = timezone.localdate()
    assert meals and {m.channel for m in meals} == {"offline"}
    assert all(today - timedelta(days=3) <= m.service_date <= today for m in meals)
    assert {m.diner_id for m in meals} <= {d.pk for d in diners}
    assert len({(m.diner_id, m.service_date, m.slot) for m in meals}) == len(meals)  # one a slot and day
    assert trial_balance().ok
    call_command("meals_demo_recent", "--days", "3")
    assert MealService.objects.filter(point=site.point).count() == len(meals)
