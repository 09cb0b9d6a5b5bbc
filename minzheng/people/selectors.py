"""Every person-level read goes through here and is cut to the actor's division subtree.

Outside the subtree a record does not exist (NotFound, HTTP 404); lists, counts, searches and
exports never include or count it (DESIGN §4.3, security AC-2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from minzheng.core import crypto, identifiers
from minzheng.core.access import Actor
from minzheng.core.exceptions import ApprovalRequired, NotFound, PermissionDenied
from minzheng.core.services import audit_record
from minzheng.people.domain import SearchQuery, classify_search
from minzheng.people.enums import GrantStatus, PersonStatus
from minzheng.people.models import Household, MinorAccessGrant, Person, PersonPhone
from minzheng.people.permissions import PeoplePerm

SEARCH_LIMIT = 50


def _require_view(actor: Actor) -> None:
    if not actor.has_permission(PeoplePerm.VIEW_PERSON):
        raise PermissionDenied()


def person_scope(*, actor: Actor) -> QuerySet[Person]:
    """All persons the actor may see: the one place the area filter is applied."""
    _require_view(actor)
    return Person.objects.filter(area_path__startswith=actor.scope_path)


def household_scope(*, actor: Actor) -> QuerySet[Household]:
    _require_view(actor)
    return Household.objects.filter(area_path__startswith=actor.scope_path)


@dataclass(frozen=True)
class PersonFilters:
    division_code: str = ""
    status: str = PersonStatus.ACTIVE
    min_age_birth_before: Any = None  # a date: born on or before it
    living_arrangement: str = ""
    tag: str = ""


def person_list(*, actor: Actor, filters: PersonFilters | None = None, query: str = "") -> QuerySet[Person]:
    f = filters or PersonFilters()
    qs = person_scope(actor=actor).select_related("division")
    if f.division_code:
        qs = qs.filter(area_path__contains=f"{f.division_code}/")
    if f.status:
        qs = qs.filter(status=f.status)
    if f.min_age_birth_before:
        qs = qs.filter(birth_date__lte=f.min_age_birth_before)
    if f.living_arrangement:
        qs = qs.filter(living_arrangement=f.living_arrangement)
    if f.tag:
        qs = qs.filter(tags__contains=[f.tag]) if connection.vendor == "postgresql" else qs.filter(tags__icontains=f'"{f.tag}"')
    if query:
        qs = _apply_search(qs, classify_search(query))
    return qs.order_by("name", "id")


def person_count(*, actor: Actor, filters: PersonFilters | None = None, query: str = "") -> int:
    return person_list(actor=actor, filters=filters, query=query).order_by().count()


def _apply_search(qs: QuerySet[Person], q: SearchQuery) -> QuerySet[Person]:
    if q.mode == "id_number":
        try:
            value = identifiers.parse_id_number(q.value)
        except identifiers.IdentifierError:
            return qs.none()
        return qs.filter(id_bidx=crypto.blind_index("id", value))
    if q.mode == "phone":
        return qs.filter(phones__bidx=crypto.blind_index("phone", q.value)).distinct()
    if q.mode == "phone_tail":
        return qs.filter(phones__tail=q.value).distinct()
    if q.mode == "initials":
        return qs.filter(name_initials__startswith=q.value)
    if q.mode == "name":
        return qs.filter(name__startswith=q.value)
    if q.mode == "empty":
        return qs
    return qs.none()


def person_search(*, actor: Actor, query: str, limit: int = SEARCH_LIMIT) -> tuple[SearchQuery, list[Person]]:
    """Name, pinyin initials, phone tail, a full phone, or a full ID number (exact, blind index)."""
    q = classify_search(query)
    if q.mode in ("empty", "invalid"):
        return q, []
    qs = _apply_search(person_scope(actor=actor).select_related("division"), q)
    return q, list(qs.order_by("name", "id")[:limit])


def person_get(*, actor: Actor, uid: Any) -> Person:
    """One person in the actor's area. A minor's record opens only with a live approval (AC-4),
    and each such opening is audited."""
    try:
        person = (
            person_scope(actor=actor)
            .select_related("division", "hukou_division", "household")
            .prefetch_related(Prefetch("phones", queryset=PersonPhone.objects.order_by("id")))
            .get(uid=uid)
        )
    except (Person.DoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise NotFound() from None
    if person.is_minor:
        grant = minor_grant_active(actor=actor, person=person)
        if grant is None:
            raise ApprovalRequired(
                "查阅未成年人档案须经审批", code="minor_approval_required", extra={"person": str(person.uid)}
            )
        audit_record(actor=actor, event_type="person.open_minor", object_type="person", object_id=person.uid,
                     extra={"grant": grant.pk})
    return person


def _requester(actor: Actor) -> dict[str, Any]:
    # Staff and machine keys number their ids separately: match on both id and username.
    return {"requested_by_id": actor.pk, "requested_by_name": getattr(actor, "username", "")}


def minor_grant_active(*, actor: Actor, person: Person) -> MinorAccessGrant | None:
    """A live approval of this actor's own request. Machines never open a minor's record."""
    if actor.is_machine:
        return None
    return (
        MinorAccessGrant.objects.filter(
            person=person, status=GrantStatus.APPROVED, expires_at__gt=timezone.now(), **_requester(actor)
        )
        .order_by("-expires_at")
        .first()
    )


def minor_grant_pending(*, actor: Actor, person: Person) -> MinorAccessGrant | None:
    return MinorAccessGrant.objects.filter(person=person, status=GrantStatus.PENDING, **_requester(actor)).first()


def minor_grant_queue(*, actor: Actor) -> QuerySet[MinorAccessGrant]:
    """Requests an approver may decide: pending, in the approver's area, not their own."""
    if not actor.has_permission(PeoplePerm.APPROVE_MINOR_ACCESS):
        raise PermissionDenied()
    return (
        MinorAccessGrant.objects.select_related("person", "person__division")
        .filter(status=GrantStatus.PENDING, person__area_path__startswith=actor.scope_path)
        .exclude(**_requester(actor))
        .order_by("created_at")
    )


def household_get(*, actor: Actor, uid: Any) -> Household:
    try:
        return household_scope(actor=actor).select_related("division").get(uid=uid)
    except (Household.DoesNotExist, ValueError, TypeError, DjangoValidationError):
        raise NotFound() from None


def household_members(*, actor: Actor, household: Household) -> list[Person]:
    return list(
        person_scope(actor=actor).filter(household=household).select_related("division").order_by("birth_date")
    )


def household_list(*, actor: Actor, division_code: str = "") -> QuerySet[Household]:
    qs = household_scope(actor=actor).select_related("division")
    if division_code:
        qs = qs.filter(area_path__contains=f"{division_code}/")
    return qs.order_by("area_path", "id")


def person_by_id_number(*, actor: Actor, id_number: str) -> Person | None:
    value = identifiers.parse_id_number(id_number)
    return person_scope(actor=actor).filter(id_bidx=crypto.blind_index("id", value)).first()
