"""The last days of service at the demo operator's point, for ``make demo``: the seeded year is
2023 (the bureau's figures), so without this the canteen page, the overview and reconciliation of
the current month would be empty. The meals go through the real checkout (``meal_checkout_batch``,
the offline-terminal path that takes original times, which allows up to 7 days back): priced by
the rules, posted to the ledger, audited. Does nothing without the bound demo operator, or when the
point already has meals in those days (idempotent)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from minzheng.core import crypto
from minzheng.meals.enums import CredentialKind, DinerStatus, Tender
from minzheng.meals.models import Diner, DinerCard, MealService, MealSlot, PointOperator
from minzheng.meals.services.checkout import BATCH_MAX, CheckoutRequest, meal_checkout_batch

# share of the point's diners who eat each slot on a day (lunch dominates, as in the seeded year)
TURNOUT = {"breakfast": 0.08, "lunch": 0.55, "dinner": 0.15}
TENDERS = [Tender.CASH] * 5 + [Tender.CITIZEN_CARD] * 3 + [Tender.WECHAT, Tender.ALIPAY]


class Command(BaseCommand):
    help = "Serve the last days' meals at the demo operator's point through the real checkout (make demo)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=6, help="days before today (at most 6), and today so far")
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args: Any, **o: Any) -> None:
        bound = PointOperator.objects.filter(staff__username="canteen_op").select_related("staff", "point").first()
        if bound is None:
            self.stdout.write("no demo operator bound to a point: nothing served")
            return
        point, operator = bound.point, bound.staff
        now = timezone.localtime()
        first = now.date() - timedelta(days=max(0, min(o["days"], 6)))
        if MealService.objects.filter(point=point, service_date__gte=first).exists():
            return
        township = "/".join(point.area_path.split("/")[:2]) + "/"
        diners = list(Diner.objects.filter(status=DinerStatus.ACTIVE, person__isnull=False,
                                           area_path__startswith=township).order_by("id"))
        cards = {c.diner_id: c for c in DinerCard.objects.filter(diner__in=diners, kind=CredentialKind.CITIZEN_CARD)}
        numbers = {d.pk: crypto.unseal(bytes(cards[d.pk].sealed), f"meals|card|{d.uid}") for d in diners if d.pk in cards}
        slots = list(MealSlot.objects.filter(point=point))
        rng = random.Random(f"{o['seed']}:demo-recent:{point.code}")  # noqa: S311 -- synthetic demo data, reproducible
        items = []
        for day in (first + timedelta(days=i) for i in range((now.date() - first).days + 1)):
            for slot in slots:
                for diner_id, number in numbers.items():
                    if rng.random() >= TURNOUT.get(slot.slot, 0.1):
                        continue
                    at = self._moment(rng, day, slot)
                    if at >= now:
                        continue
                    items.append(CheckoutRequest(
                        point_id=point.pk, credential=number, idempotency_key=f"demo-{day:%Y%m%d}-{slot.slot}-{diner_id}",
                        occurred_at=at, payment_method=rng.choice(TENDERS)))
        served = refused = 0
        for i in range(0, len(items), BATCH_MAX):
            for result in meal_checkout_batch(actor=operator, point_id=point.pk, items=items[i:i + BATCH_MAX]):
                served, refused = served + result.ok, refused + (not result.ok)
        self.stdout.write(f"{point.code} {point.name}: {served} meals served since {first} ({refused} refused by the rules)")

    @staticmethod
    def _moment(rng: random.Random, day: date, slot: MealSlot) -> datetime:
        start = datetime.combine(day, slot.starts)
        span = max(60, int((datetime.combine(day, slot.ends) - start).total_seconds()) - 60)
        return timezone.make_aware(start + timedelta(seconds=rng.randrange(span)))
