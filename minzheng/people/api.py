"""JSON API of the person registry (read-only), mounted by ``minzheng.web.api``:

- ``GET /api/v1/people``            scoped, paginated list with filters and search text
- ``POST /api/v1/people/search``    the search box: name, pinyin initials, phone (tail), ID number
- ``GET /api/v1/people/search?q=``  the same for a name, initials or a 4-digit phone tail
- ``GET /api/v1/people/{uid}``      one person (404 outside the caller's area, same body as unknown)
- ``GET /api/v1/households/{uid}``  one household with the members the caller may see

Every read goes through ``people.selectors`` with the authenticated actor (staff or machine key),
so the area scope is applied there (security AC-2). Answers carry masked identifiers only — never
a full ID or phone number — and no database ids (``uid`` only). Nor do URLs: a search text with an
ID or phone number in it (``query_is_sensitive``) is refused in a query string with 400
``identifier_in_url`` and is posted instead, as the web page does, since URLs end up in access
logs, proxies and browser history. Operations declare permissions with
``core.access.requires``; ``web.api`` enforces them.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema

from minzheng.core.access import requires
from minzheng.core.exceptions import ValidationFailed
from minzheng.divisions.api import CODE_PATTERN, DivisionRef, known_division, ref
from minzheng.divisions.models import Division
from minzheng.people.domain import query_is_sensitive
from minzheng.people.enums import Gender, LivingArrangement, PersonStatus, Relation, SelfCare
from minzheng.people.models import PersonPhone
from minzheng.people.permissions import PeoplePerm
from minzheng.people.selectors import (
    SEARCH_LIMIT,
    PersonFilters,
    household_get,
    household_members,
    person_get,
    person_list,
    person_search,
)

router = Router(tags=["人员 people"])
households_router = Router(tags=["家庭户 households"])

MAX_PAGE = 100
MAX_OFFSET = 1_000_000_000  # bounded so that no number can overflow the database's OFFSET
MAX_QUERY = 40
SearchMode = Literal["id_number", "phone", "phone_tail", "initials", "name", "empty", "invalid"]
StatusFilter = Literal["active", "deceased", "moved_out", "all"]


# --- Schemas ---------------------------------------------------------------------------------


class PhoneOut(Schema):
    label: str
    masked: str = Field(..., description="脱敏号码, 如 138****0001")


class PersonItem(Schema):
    uid: UUID
    name: str
    gender: Gender
    birth_date: date
    age: int = Field(..., description="周岁 (已故者为去世时年龄)")
    id_masked: str = Field(..., description="脱敏身份证号, 如 330110********123X")
    division: DivisionRef = Field(..., description="居住村社")
    township: DivisionRef | None = Field(..., description="所属街道(镇)")
    living_arrangement: LivingArrangement
    status: PersonStatus
    phones: list[PhoneOut]


class PersonPage(Schema):
    count: int = Field(..., description="符合条件且在您管辖范围内的总人数")
    limit: int
    offset: int
    items: list[PersonItem]


class PersonSearchResult(Schema):
    mode: SearchMode = Field(..., description="识别出的检索方式")
    count: int = Field(..., description="本次返回的人数 (至多 limit)")
    limit: int
    items: list[PersonItem]


class HouseholdRef(Schema):
    uid: UUID
    relation_to_head: Relation | None


class DisabilityOut(Schema):
    category: str
    category_label: str
    grade: int | None


class PersonDetail(PersonItem):
    hukou_in_zhejiang: bool
    address_masked: str = Field(..., description="脱敏居住地址")
    household: HouseholdRef | None
    disability: DisabilityOut | None
    self_care: SelfCare
    health_flags: list[str]
    tags: list[str]
    deceased_on: date | None
    moved_out_on: date | None


class HouseholdMember(Schema):
    uid: UUID
    name: str
    gender: Gender
    age: int
    id_masked: str
    relation_to_head: Relation | None
    status: PersonStatus


class HouseholdOut(Schema):
    uid: UUID
    division: DivisionRef
    township: DivisionRef | None
    address_masked: str
    member_count: int = Field(..., description="您可见的成员数")
    members: list[HouseholdMember]


class PersonListQuery(Schema):
    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"每页条数 (1–{MAX_PAGE})")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="跳过的条数")
    division: str | None = Field(None, pattern=CODE_PATTERN, description="区划代码: 只列该区划(含)以下")
    status: StatusFilter = Field("active", description="人员状态, all 为全部")
    living_arrangement: LivingArrangement | None = Field(None, description="居住状况")
    q: str = Field("", max_length=MAX_QUERY, description="检索: 姓名、拼音首字母、手机尾号、手机号或身份证号")


class PersonSearchQuery(Schema):
    q: str = Field(..., min_length=1, max_length=MAX_QUERY, description="姓名、拼音首字母、手机尾号、手机号或身份证号")


# --- Rendering -------------------------------------------------------------------------------


def _phones() -> Prefetch:
    return Prefetch("phones", queryset=PersonPhone.objects.order_by("id"))


def _age(p: Any, today: date) -> int:
    return int(p.age_on(p.deceased_on or today))


def _relation(p: Any) -> str | None:
    return p.relation_to_head or None


def _item(p: Any, today: date) -> dict[str, Any]:
    return {
        "uid": p.uid,
        "name": p.name,
        "gender": p.gender,
        "birth_date": p.birth_date,
        "age": _age(p, today),
        "id_masked": p.id_masked,
        "division": ref(p.division),
        "township": ref(p.division.parent),
        "living_arrangement": p.living_arrangement,
        "status": p.status,
        "phones": [{"label": ph.label, "masked": ph.masked} for ph in p.phones.all()],
    }


def _detail(p: Any, today: date) -> dict[str, Any]:
    disability = None
    if p.disability_category:
        disability = {
            "category": p.disability_category,
            "category_label": p.get_disability_category_display(),
            "grade": p.disability_grade,
        }
    household = {"uid": p.household.uid, "relation_to_head": _relation(p)} if p.household_id else None
    return {
        **_item(p, today),
        "hukou_in_zhejiang": p.hukou_in_zhejiang,
        "address_masked": p.address_masked,
        "household": household,
        "disability": disability,
        "self_care": p.self_care,
        "health_flags": list(p.health_flags or []),
        "tags": list(p.tags or []),
        "deceased_on": p.deceased_on,
        "moved_out_on": p.moved_out_on,
    }


def _member(p: Any, today: date) -> dict[str, Any]:
    return {
        "uid": p.uid,
        "name": p.name,
        "gender": p.gender,
        "age": _age(p, today),
        "id_masked": p.id_masked,
        "relation_to_head": _relation(p),
        "status": p.status,
    }


# --- Operations ------------------------------------------------------------------------------


def _no_identifier_in_url(q: str) -> None:
    if query_is_sensitive(q):
        raise ValidationFailed({"q": "含身份证号或手机号的检索不能放在网址中, 请用 POST /api/v1/people/search 提交"},
                               code="identifier_in_url")


def _actor(request: HttpRequest) -> Any:
    """The authenticated staff member or machine key (set by the API's auth classes)."""
    return request.auth  # type: ignore[attr-defined]


@router.get("", response=PersonPage, summary="人员列表", url_name="person_list")
@requires(PeoplePerm.VIEW_PERSON)
def list_people(request: HttpRequest, params: Query[PersonListQuery]) -> dict[str, Any]:
    """Persons in the caller's area; ``count`` counts only those (AC-2). Fixed query count per page."""
    _no_identifier_in_url(params.q)
    if params.division:
        known_division(params.division, field="division")
    filters = PersonFilters(
        division_code=params.division or "",
        status="" if params.status == "all" else params.status,
        living_arrangement=params.living_arrangement or "",
    )
    qs: QuerySet[Any] = person_list(actor=_actor(request), filters=filters, query=params.q)
    count = qs.count()
    page = qs.select_related("division__parent").prefetch_related(_phones())
    rows = list(page[params.offset : params.offset + params.limit])
    today = timezone.localdate()
    return {"count": count, "limit": params.limit, "offset": params.offset, "items": [_item(p, today) for p in rows]}


@router.get("/search", response=PersonSearchResult, summary="人员检索(姓名、拼音、手机尾号)", url_name="person_search")
@requires(PeoplePerm.VIEW_PERSON)
def search_people(request: HttpRequest, params: Query[PersonSearchQuery]) -> dict[str, Any]:
    """The search box by URL, for what is no identifier: a name, initials or a 4-digit phone tail."""
    _no_identifier_in_url(params.q)
    return _search(request, params.q)


@router.post("/search", response=PersonSearchResult, summary="人员检索(含身份证号、手机号)")
@requires(PeoplePerm.VIEW_PERSON)
def search_people_posted(request: HttpRequest, body: PersonSearchQuery) -> dict[str, Any]:
    """The search box with any text, an ID or phone number included, in the body."""
    return _search(request, body.q)


def _search(request: HttpRequest, query: str) -> dict[str, Any]:
    """The detected ``mode`` and at most ``limit`` persons in the caller's area."""
    found, persons = person_search(actor=_actor(request), query=query)
    prefetch_related_objects(persons, Prefetch("division", queryset=Division.objects.select_related("parent")),
                             _phones())
    today = timezone.localdate()
    return {"mode": found.mode, "count": len(persons), "limit": SEARCH_LIMIT, "items": [_item(p, today) for p in persons]}


@router.get("/{uid}", response=PersonDetail, summary="人员详情", url_name="person_detail")
@requires(PeoplePerm.VIEW_PERSON)
def get_person(request: HttpRequest, uid: str) -> dict[str, Any]:
    """One person. Unknown, malformed and out-of-area uids all answer the same 404."""
    person = person_get(actor=_actor(request), uid=uid)
    prefetch_related_objects([person], "division__parent")
    return _detail(person, timezone.localdate())


@households_router.get("/{uid}", response=HouseholdOut, summary="家庭户详情", url_name="household_detail")
@requires(PeoplePerm.VIEW_PERSON)
def get_household(request: HttpRequest, uid: str) -> dict[str, Any]:
    """A household and those of its members inside the caller's area."""
    household = household_get(actor=_actor(request), uid=uid)
    prefetch_related_objects([household], "division__parent")
    members = household_members(actor=_actor(request), household=household)
    today = timezone.localdate()
    return {
        "uid": household.uid,
        "division": ref(household.division),
        "township": ref(household.division.parent),
        "address_masked": household.address_masked,
        "member_count": len(members),
        "members": [_member(p, today) for p in members],
    }
