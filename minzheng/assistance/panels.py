"""The 精准救助 panel of the person page (一人一档): enrolments, recent payments, visits."""

from __future__ import annotations

from typing import Any

from minzheng.assistance.permissions import AssistancePerm
from minzheng.core.access import Actor
from minzheng.people.panels import Panel, register_panel


def assistance_panel(actor: Actor, person: Any) -> dict[str, Any] | None:
    from minzheng.assistance.models import Enrolment
    from minzheng.assistance.selectors import payments_of, visit_list

    enrolments = list(Enrolment.objects.filter(person_id=person.pk, area_path__startswith=actor.scope_path)
                      .order_by("-start_month", "-id")[:10])
    payments = payments_of(actor=actor, person_id=person.pk, limit=6)
    visits = visit_list(actor=actor, person_id=person.pk, limit=5)
    can_apply = actor.has_permission(AssistancePerm.APPLY) and person.status == "active"
    if not (enrolments or payments or visits):
        return {"empty": True, "enrolments": [], "payments": [], "visits": [], "can_apply": can_apply}
    return {"empty": False, "enrolments": enrolments, "payments": payments, "visits": visits, "can_apply": can_apply,
            "can_visit": actor.has_permission(AssistancePerm.RECORD_VISIT)}


def register() -> None:
    register_panel(Panel("assistance", "社会救助", "assistance/panel.html", 40, AssistancePerm.VIEW, assistance_panel))
