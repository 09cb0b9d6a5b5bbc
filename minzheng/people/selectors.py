"""Every person-level read goes through here and is cut to the actor's division subtree.

Outside the subtree a record does not exist (NotFound, HTTP 404); lists, counts, searches and
exports never include or count it (DESIGN §4.3, security AC-2).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Prefetch, QuerySet, Sum
from django.utils import timezone

from minzheng.core import crypto, identifiers, statements
from minzheng.core.access import Actor
from minzheng.core.exceptions import ApprovalRequired, NotFound, PermissionDenied
from minzheng.core.policy import policy
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.divisions.selectors import division_index
from minzheng.people.domain import SearchQuery, classify_search
from minzheng.people.enums import GrantStatus, LivingArrangement, PersonStatus
from minzheng.people.models import (
    ExportApproval,
    ExportRecord,
    Household,
    MinorAccessGrant,
    Person,
    PersonPhone,
)
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


def _search_lookup(q: SearchQuery) -> tuple[str, Any] | None:
    """The one filter a search mode applies, as (lookup, value); None when nothing can match."""
    if q.mode == "id_number":
        try:
            value = identifiers.parse_id_number(q.value)
        except identifiers.IdentifierError:
            return None
        return "id_bidx", crypto.blind_index("id", value)
    return {
        "phone": lambda: ("phones__bidx", crypto.blind_index("phone", q.value)),
        "phone_tail": lambda: ("phones__tail", q.value),
        "initials": lambda: ("name_initials__startswith", q.value),
        "name": lambda: ("name__startswith", q.value),
    }.get(q.mode, lambda: None)()


def _apply_search(qs: QuerySet[Person], q: SearchQuery) -> QuerySet[Person]:
    if q.mode == "empty":
        return qs
    lookup = _search_lookup(q)
    if lookup is None:
        return qs.none()
    qs = qs.filter(**{lookup[0]: lookup[1]})
    return qs.distinct() if lookup[0].startswith("phones__") else qs


# What a search result shows (the list row, the API's item and its age): not the ciphertexts, blind
# indexes, flags or timestamps, which a result never reads (reading one would cost a query).
SEARCH_FIELDS = (
    "uid", "name", "name_initials", "gender", "birth_date", "id_masked", "division", "area_path", "household",
    "relation_to_head", "living_arrangement", "self_care", "status", "deceased_on", "moved_out_on",
    "disability_category", "disability_grade", "hukou_in_zhejiang", "address_masked",
)
_DIVISION = Person._meta.get_field("division")
_SCOPE = statements.probe_text("scope")


def _search_statement(lookup: str, limit: int, binary: bool) -> statements.Compiled:
    """The search's SQL, compiled by the ORM once per (database, lookup, limit) instead of on every
    keystroke (core.statements); each call only fills in the scope and the value."""
    value: Any = statements.PROBE_BYTES if binary else statements.probe_text("value")

    def build() -> QuerySet[Person]:
        qs = Person.objects.only(*SEARCH_FIELDS).filter(area_path__startswith=_SCOPE, **{lookup: value})
        qs = qs.distinct() if lookup.startswith("phones__") else qs
        return qs.order_by("name", "id")[:limit]

    return statements.compiled(f"people.search.{lookup}.{limit}", build, {"scope": _SCOPE, "value": value})


def person_search(*, actor: Actor, query: str, limit: int = SEARCH_LIMIT) -> tuple[SearchQuery, list[Person]]:
    """Name, pinyin initials, phone tail, a full phone, or a full ID number (exact, blind index),
    in the actor's area: one query of a statement compiled once per mode."""
    q = classify_search(query)
    if q.mode in ("empty", "invalid"):
        return q, []
    _require_view(actor)
    lookup = _search_lookup(q)
    if lookup is None:
        return q, []
    statement = _search_statement(lookup[0], limit, isinstance(lookup[1], bytes))
    persons: list[Person] = statement.run(scope=actor.scope_path, value=lookup[1])
    divisions = division_index()
    for person in persons:  # the division, as select_related would give it, without the join
        if person.division_id in divisions:
            _DIVISION.set_cached_value(person, divisions[person.division_id])
    return q, persons


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


# --- Bulk export (security AC-5, attack A13) ------------------------------------------------------


def export_criteria(*, filters: PersonFilters | None = None, query: str = "") -> dict[str, str]:
    """The exact criteria of an export, as stored on its approval: same criteria, same fingerprint."""
    f = filters or PersonFilters()
    born = f.min_age_birth_before
    return {
        "query": (query or "").strip()[:40],
        "division_code": f.division_code or "",
        "status": f.status or "",
        "born_on_or_before": born.isoformat() if born else "",
        "living_arrangement": f.living_arrangement or "",
        "tag": f.tag or "",
    }


def export_fingerprint(criteria: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(criteria, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def export_description(criteria: dict[str, str]) -> str:
    """The criteria in words, for the approver: 顾家桥社区 · 在册 · 出生于1944-11-28及以前 · 检索“王”."""
    parts: list[str] = []
    if criteria.get("division_code"):
        division = Division.objects.filter(code=criteria["division_code"]).first()
        parts.append(division.name if division else criteria["division_code"])
    if criteria.get("status"):
        parts.append(dict(PersonStatus.as_choices()).get(criteria["status"], criteria["status"]))
    else:
        parts.append("全部状态")
    if criteria.get("born_on_or_before"):
        parts.append(f"出生于{criteria['born_on_or_before']}及以前")
    if criteria.get("living_arrangement"):
        parts.append(dict(LivingArrangement.as_choices()).get(criteria["living_arrangement"], ""))
    if criteria.get("tag"):
        parts.append(f"标签“{criteria['tag']}”")
    if criteria.get("query"):
        parts.append(f"检索“{criteria['query']}”")
    return " · ".join(p for p in parts if p)[:300]


def _exporter(actor: Actor) -> dict[str, Any]:
    return {"exported_by_id": actor.pk, "exported_by_name": getattr(actor, "username", "")}


def export_day_bounds(now: datetime | None = None) -> tuple[datetime, datetime]:
    """Today in Asia/Shanghai (the project's TIME_ZONE), as an aware [start, end) pair."""
    today = timezone.localdate(now or timezone.now())
    start = timezone.make_aware(datetime.combine(today, time.min))
    return start, start + timedelta(days=1)


def export_rows_today(*, actor: Actor) -> int:
    """Rows this member of staff exported today: one SUM over their export records."""
    start, end = export_day_bounds()
    total = ExportRecord.objects.filter(at__gte=start, at__lt=end, **_exporter(actor)).aggregate(n=Sum("rows"))["n"]
    return int(total or 0)


def export_approval_usable(*, actor: Actor, fingerprint: str) -> ExportApproval | None:
    """The requester's own approved, unexpired, unused approval of exactly these criteria."""
    if actor.is_machine:
        return None
    return (
        ExportApproval.objects.filter(
            fingerprint=fingerprint, status=GrantStatus.APPROVED, expires_at__gt=timezone.now(),
            used_at__isnull=True, **_requester(actor),
        )
        .order_by("-expires_at")
        .first()
    )


def export_approval_pending(*, actor: Actor, fingerprint: str) -> ExportApproval | None:
    return (
        ExportApproval.objects.filter(fingerprint=fingerprint, status=GrantStatus.PENDING, **_requester(actor))
        .order_by("-created_at")
        .first()
    )


def export_approval_queue(*, actor: Actor) -> QuerySet[ExportApproval]:
    """Export requests an approver may decide: pending, from inside the approver's area, not their own."""
    if not actor.has_permission(PeoplePerm.APPROVE_EXPORT):
        raise PermissionDenied()
    return (
        ExportApproval.objects.filter(status=GrantStatus.PENDING, scope_path__startswith=actor.scope_path)
        .exclude(**_requester(actor))
        .order_by("created_at")
    )


@dataclass(frozen=True)
class ExportStatus:
    total: int
    description: str
    threshold: int
    daily: int
    used_today: int
    pending: ExportApproval | None
    approved: ExportApproval | None


def export_status(*, actor: Actor, filters: PersonFilters | None = None, query: str = "") -> ExportStatus:
    """Where an export of these criteria stands for the actor: rows, today's use, its approval."""
    if not actor.has_permission(PeoplePerm.EXPORT_PERSON):
        raise PermissionDenied()
    criteria = export_criteria(filters=filters, query=query)
    fingerprint = export_fingerprint(criteria)
    rules = policy()
    return ExportStatus(
        total=person_count(actor=actor, filters=filters, query=query),
        description=export_description(criteria),
        threshold=rules.export_approval_rows,
        daily=rules.export_daily_rows,
        used_today=export_rows_today(actor=actor),
        pending=export_approval_pending(actor=actor, fingerprint=fingerprint),
        approved=export_approval_usable(actor=actor, fingerprint=fingerprint),
    )
