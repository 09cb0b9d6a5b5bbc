"""Bind the demo canteen operator (``canteen_op``) to a meal point, so the canteen page of
``make demo`` can serve a diner. Run after ``minzheng demo-accounts``; does nothing without them."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from minzheng.accounts.models import Staff
from minzheng.meals.models import MealPoint, PointOperator
from minzheng.meals.services.points import operator_assign


class Command(BaseCommand):
    help = "Bind the demo canteen operator to the nearest meal point (make demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        operator = Staff.objects.filter(username="canteen_op").select_related("division").first()
        admin = Staff.objects.filter(username="qu_admin").first()
        if operator is None or admin is None or PointOperator.objects.filter(staff=operator).exists():
            return
        points = MealPoint.objects.filter(code__startswith="YH").order_by("code")
        township = "/".join(operator.division.path.split("/")[:2]) + "/"
        point = points.filter(area_path__startswith=township).first() or points.first()
        if point is None:
            self.stdout.write("no meal point seeded: the canteen operator stays unbound")
            return
        operator_assign(actor=admin, point=point, staff=operator)
        self.stdout.write(f"canteen_op works at {point.code} {point.name}")
