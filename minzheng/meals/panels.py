"""The 智慧助餐 panel on the person page (一人一档)."""

from __future__ import annotations

from typing import Any

from minzheng.core.access import Actor
from minzheng.people.panels import Panel, register_panel


def _context(actor: Actor, person: Any) -> dict[str, Any] | None:
    from django.utils import timezone

    from minzheng.meals import domain
    from minzheng.meals.enums import MealStatus
    from minzheng.meals.models import MealService
    from minzheng.meals.permissions import MealsPerm
    from minzheng.meals.selectors import diner_for_person
    from minzheng.meals.services.wallets import wallet_balance

    diner = diner_for_person(actor=actor, person_id=person.pk)
    if diner is None:
        eligible = person.status == "active" and domain.age_on(person.birth_date, timezone.localdate()) >= domain.ELDER_AGE
        if eligible and actor.has_permission(MealsPerm.REGISTER_DINER):
            return {"diner": None, "can_register": True}
        return None
    meals = list(MealService.objects.filter(diner=diner, status=MealStatus.SERVED).select_related("point")
                 .order_by("-occurred_at")[:5])
    return {"diner": diner, "categories": domain.category_labels(diner.categories or []),
            "wallet": domain.yuan(wallet_balance(diner=diner)) if diner.has_wallet else "", "meals": meals}


def register() -> None:
    from minzheng.meals.permissions import MealsPerm

    register_panel(Panel("meals", "智慧助餐", "meals/panels/diner.html", 60, MealsPerm.VIEW, _context))
