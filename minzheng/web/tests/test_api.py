"""API v1: auth, permissions, area scope (security A4), errors, query counts, no identifier leaks."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from conftest import COMMUNITY_A, COMMUNITY_B, DISTRICT, LIANGZHU, WUCHANG

# Bounded by anything but letters and digits: a UUID's hex groups (e.g. "-13081365929e") are not numbers.
FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
FULL_PHONE = re.compile(r"(?<![\dA-Za-z])1[3-9]\d{9}(?![\dA-Za-z])")
NOT_FOUND_BODY = {"code": "not_found", "message": "记录不存在或不在您的管辖范围内", "extra": {}}


def call(client: Client, url: str, status: int, **headers: Any) -> dict[str, Any]:
    """GET ``url``; check the status, that the answer is JSON, and that it leaks no identifier."""
    response = client.get(url, headers=headers)
    body = response.content.decode()
    assert response.status_code == status, body
    assert response["Content-Type"].startswith("application/json"), body
    assert not FULL_ID.search(body), f"full ID number in {url}: {body}"
    assert not FULL_PHONE.search(body), f"full phone number in {url}: {body}"
    assert response["Cache-Control"] == "no-store"
    return response.json()


def uids(body: dict[str, Any]) -> set[str]:
    return {item["uid"] for item in body["items"]}


@pytest.fixture
def people(make_person: Any) -> dict[str, Any]:
    return {
        "a": make_person("张三", division=COMMUNITY_A, birth="19400101", phones=["13800000001"]),
        "a2": make_person("李四", division=COMMUNITY_A, birth="19500202", living_arrangement="alone"),
        "b": make_person("张五", division=COMMUNITY_B, birth="19450303", phones=["13900000777"]),
    }


@pytest.fixture
def worker_a(make_staff: Any, login: Any) -> Client:
    return login(make_staff(roles=["community_worker"], division=COMMUNITY_A))


@pytest.fixture
def district(make_staff: Any, login: Any) -> Client:
    return login(make_staff(roles=["district_admin"], division=DISTRICT))


def make_key(purpose: str = "peer_system", division: str = COMMUNITY_A) -> tuple[Any, str]:
    from minzheng.accounts.services import api_key_create

    return api_key_create(actor=None, name="对接系统", purpose=purpose, division_code=division)


def person_urls(people: dict[str, Any]) -> list[str]:
    return ["/api/v1/people", "/api/v1/people/search?q=张", f"/api/v1/people/{people['a'].uid}"]


ALL_URLS = [
    "/api/v1/divisions",
    f"/api/v1/divisions/{COMMUNITY_A}",
    "/api/v1/people",
    "/api/v1/people/search?q=张",
    f"/api/v1/people/{uuid.uuid4()}",
    f"/api/v1/households/{uuid.uuid4()}",
    "/api/v1/openapi.json",
    "/api/v1/docs",
]


# --- Authentication --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", ALL_URLS)
def test_anonymous_gets_401_everywhere(client: Client, url: str) -> None:
    body = call(client, url, 401)
    assert body["code"] == "not_authenticated"
    assert body["extra"] == {}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ALL_URLS)
def test_bad_api_keys_get_401(client: Client, url: str) -> None:
    _, raw = make_key()
    prefix = raw.split(".")[0]
    for bad in ("nonsense", f"{prefix}.wrong-secret", f"{prefix}.", ".x", "a" * 500, "x.y\x01z"):
        assert call(client, url, 401, **{"X-API-Key": bad})["code"] == "not_authenticated"


@pytest.mark.django_db
def test_revoked_key_gets_401(client: Client) -> None:
    from minzheng.accounts.services import api_key_revoke

    key, raw = make_key()
    call(client, "/api/v1/people", 200, **{"X-API-Key": raw})
    api_key_revoke(actor=None, key=key)
    assert call(client, "/api/v1/people", 401, **{"X-API-Key": raw})["code"] == "not_authenticated"


@pytest.mark.django_db
def test_half_signed_in_admin_is_not_authenticated(client: Client, make_staff: Any) -> None:
    """Password accepted, second factor still owed (security A9): the API answers 401."""
    admin = make_staff(roles=["system_admin"], division=DISTRICT)
    session = client.session
    session["mz_pending_staff"] = admin.pk
    session.save()
    assert call(client, "/api/v1/divisions", 401)["code"] == "not_authenticated"


@pytest.mark.django_db
def test_expired_password_is_refused(make_staff: Any, login: Any) -> None:
    staff = make_staff(roles=["community_worker"])
    staff.password_changed_at = timezone.now() - timedelta(days=91)
    staff.save(update_fields=["password_changed_at"])
    body = call(login(staff), "/api/v1/people", 403)
    assert body["code"] == "password_expired"


@pytest.mark.django_db
def test_api_key_records_last_use(client: Client) -> None:
    from minzheng.accounts.selectors import api_key_for

    key, raw = make_key()
    assert key.last_used_at is None
    call(client, "/api/v1/divisions", 200, **{"X-API-Key": raw})
    assert api_key_for(raw=raw).last_used_at is not None


# --- Permissions -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["system_admin", "security_admin", "auditor"])
def test_three_admins_are_refused_person_data(make_staff: Any, login: Any, people: Any, role: str) -> None:
    """三员分立 (AC-3): they read divisions, but no person record, list, search or household."""
    from minzheng.people.services import household_create

    household = household_create(actor=make_staff(roles=["district_admin"], division=DISTRICT), head=people["a"])
    client = login(make_staff(roles=[role], division=DISTRICT))
    call(client, "/api/v1/divisions", 200)
    for url in [*person_urls(people), f"/api/v1/households/{household.uid}"]:
        body = call(client, url, 403)
        assert body["code"] == "permission_denied"
        assert "张" not in str(body)


@pytest.mark.django_db
def test_canteen_terminal_key_reads_divisions_but_no_people(client: Client, people: Any) -> None:
    _, raw = make_key(purpose="canteen_terminal")
    call(client, "/api/v1/divisions", 200, **{"X-API-Key": raw})
    for url in person_urls(people):
        assert call(client, url, 403, **{"X-API-Key": raw})["code"] == "permission_denied"


def test_every_operation_declares_a_permission() -> None:
    """Deny by default (AC-1): an API operation without a declared permission fails this test
    (and is refused at run time by ``enforce_permissions``)."""
    from minzheng.core.access import all_permissions, declared_permissions
    from minzheng.web.api import api, operations

    ops = list(operations())
    assert ops
    known = all_permissions()
    for method, path, op in ops:
        perms = declared_permissions(op.view_func)
        assert perms, f"{method} {path} declares no permission"
        assert set(perms) <= known, f"{method} {path} declares an unregistered permission: {perms}"
        assert op.view_func.__name__ == getattr(op.view_func, "__wrapped__", op.view_func).__name__
        assert hasattr(op.view_func, "__wrapped__"), f"{method} {path} is not wrapped by enforce_permissions"
    schema = api.get_openapi_schema(path_prefix="/api/v1/")
    in_schema = sum(len(methods) for methods in schema["paths"].values())
    assert in_schema == len(ops), "operations() misses operations that the schema lists"


def test_undeclared_operation_is_refused_at_run_time() -> None:
    from django.test import RequestFactory

    from minzheng.core.access import requires
    from minzheng.core.exceptions import PermissionDenied
    from minzheng.web.api import enforce_permissions

    class Everything:
        pk, scope_path = 1, "/"

        def has_permission(self, perm: str) -> bool:
            return True

    class Nothing(Everything):
        def has_permission(self, perm: str) -> bool:
            return False

    request = RequestFactory().get("/api/v1/x")
    request.auth = Everything()  # type: ignore[attr-defined]
    undeclared = enforce_permissions(lambda request: "ran")
    with pytest.raises(PermissionDenied):
        undeclared(request)
    declared = enforce_permissions(requires("people.view_person")(lambda request: "ran"))
    assert declared(request) == "ran"
    request.auth = Nothing()  # type: ignore[attr-defined]
    with pytest.raises(PermissionDenied):
        declared(request)


def test_every_api_route_is_delegated() -> None:
    """RouteAccessMiddleware lets API routes through only when marked; all of them are."""
    from django.urls import URLResolver, get_resolver

    resolver = get_resolver()
    api = next(p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "api-v1")
    assert api.url_patterns
    for pattern in api.url_patterns:
        assert getattr(pattern.callback, "api_delegated", False), pattern


# --- Area scope (A4) -------------------------------------------------------------------------


@pytest.mark.django_db
def test_community_worker_sees_only_own_community(worker_a: Client, people: Any) -> None:
    a, a2 = people["a"], people["a2"]
    body = call(worker_a, "/api/v1/people", 200)
    assert body["count"] == 2
    assert uids(body) == {str(a.uid), str(a2.uid)}
    search = call(worker_a, "/api/v1/people/search?q=张", 200)
    assert search["mode"] == "name"
    assert uids(search) == {str(a.uid)}
    assert call(worker_a, "/api/v1/people/search?q=zw", 200)["items"] == []  # 张五 is in B
    assert call(worker_a, "/api/v1/people?q=0777", 200)["count"] == 0  # B's phone tail
    assert call(worker_a, f"/api/v1/people?division={COMMUNITY_B}", 200)["count"] == 0
    assert call(worker_a, f"/api/v1/people/{a.uid}", 200)["uid"] == str(a.uid)


@pytest.mark.django_db
def test_other_community_detail_is_indistinguishable_from_unknown(worker_a: Client, people: Any) -> None:
    foreign = call(worker_a, f"/api/v1/people/{people['b'].uid}", 404)
    unknown = call(worker_a, f"/api/v1/people/{uuid.uuid4()}", 404)
    malformed = call(worker_a, "/api/v1/people/not-a-uid", 404)
    assert foreign == unknown == malformed == NOT_FOUND_BODY


@pytest.mark.django_db
def test_malformed_identifiers_get_404_not_500(worker_a: Client) -> None:
    for bad in ("123", "x" * 300, "%20", "00000000-0000-0000-0000-00000000000g", "%E5%BC%A0"):
        assert call(worker_a, f"/api/v1/people/{bad}", 404) == NOT_FOUND_BODY
        assert call(worker_a, f"/api/v1/households/{bad}", 404) == NOT_FOUND_BODY
        assert call(worker_a, f"/api/v1/divisions/{bad}", 404)["code"] == "unknown_division"


@pytest.mark.django_db
def test_district_admin_sees_both_communities(district: Client, people: Any, make_person: Any) -> None:
    from minzheng.divisions.selectors import division_list

    village = division_list(within=f"{DISTRICT}/{LIANGZHU}/", level="village").first()
    elsewhere = make_person("王六", division=village.code, birth="19380404")
    assert call(district, "/api/v1/people", 200)["count"] == 4
    assert uids(call(district, f"/api/v1/people?division={WUCHANG}", 200)) == {
        str(people["a"].uid), str(people["a2"].uid), str(people["b"].uid)
    }
    assert uids(call(district, "/api/v1/people/search?q=张", 200)) == {str(people["a"].uid), str(people["b"].uid)}
    assert call(district, f"/api/v1/people/{people['b'].uid}", 200)["division"]["code"] == COMMUNITY_B
    assert call(district, f"/api/v1/people/{elsewhere.uid}", 200)["township"]["code"] == LIANGZHU


@pytest.mark.django_db
def test_api_key_is_scoped_to_its_division(client: Client, people: Any) -> None:
    _, raw = make_key(purpose="peer_system", division=COMMUNITY_A)
    headers = {"X-API-Key": raw}
    body = call(client, "/api/v1/people", 200, **headers)
    assert body["count"] == 2
    assert uids(body) == {str(people["a"].uid), str(people["a2"].uid)}
    assert uids(call(client, "/api/v1/people/search?q=zs", 200, **headers)) == {str(people["a"].uid)}
    assert call(client, f"/api/v1/people/{people['b'].uid}", 404, **headers) == NOT_FOUND_BODY
    assert call(client, f"/api/v1/people/{people['a'].uid}", 200, **headers)["name"] == "张三"


@pytest.mark.django_db
def test_household_shows_only_members_in_scope(make_staff: Any, login: Any, people: Any) -> None:
    from minzheng.people.services import household_add_member, household_create

    admin = make_staff(roles=["district_admin"], division=DISTRICT)
    household = household_create(actor=admin, head=people["a"], address="五常街道顾家桥路8号3幢501室")
    household_add_member(actor=admin, household=household, person=people["a2"], relation="spouse")
    household_add_member(actor=admin, household=household, person=people["b"], relation="child")
    url = f"/api/v1/households/{household.uid}"

    seen_by_a = call(login(make_staff(division=COMMUNITY_A)), url, 200)
    assert seen_by_a["member_count"] == 2
    assert {m["uid"] for m in seen_by_a["members"]} == {str(people["a"].uid), str(people["a2"].uid)}
    assert {m["relation_to_head"] for m in seen_by_a["members"]} == {"head", "spouse"}
    assert seen_by_a["division"] == {"code": COMMUNITY_A, "name": seen_by_a["division"]["name"]}
    assert seen_by_a["address_masked"].endswith("****")
    assert "3幢501室" not in str(seen_by_a)

    seen_by_b = call(login(make_staff(division=COMMUNITY_B)), url, 404)
    assert seen_by_b == NOT_FOUND_BODY
    assert call(login(admin), url, 200)["member_count"] == 3


# --- Content ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_item_shape(worker_a: Client, people: Any) -> None:
    body = call(worker_a, "/api/v1/people?q=zs", 200)
    assert body["count"] == 1
    item = body["items"][0]
    assert set(item) == {
        "uid", "name", "gender", "birth_date", "age", "id_masked", "division", "township",
        "living_arrangement", "status", "phones",
    }
    assert item["name"] == "张三"
    assert item["birth_date"] == "1940-01-01"
    assert item["age"] == people["a"].age_on(timezone.localdate())
    assert item["id_masked"] == people["a"].id_masked
    assert "*" in item["id_masked"]
    assert item["division"]["code"] == COMMUNITY_A
    assert item["township"]["code"] == WUCHANG
    assert item["phones"] == [{"label": "本人", "masked": "138****0001"}]
    assert item["status"] == "active"


@pytest.mark.django_db
def test_detail_shape(make_staff: Any, login: Any, make_person: Any) -> None:
    from minzheng.people.services import household_create

    person = make_person(
        "赵七", division=COMMUNITY_A, birth="19360505", disability_category="physical", disability_grade=2,
        self_care="partial", health_flags=["chronic"], tags=["高龄"], address="五常街道顾家桥路8号3幢501室",
    )
    admin = make_staff(roles=["district_admin"], division=DISTRICT)
    household = household_create(actor=admin, head=person)
    body = call(login(make_staff(division=COMMUNITY_A)), f"/api/v1/people/{person.uid}", 200)
    assert body["household"] == {"uid": str(household.uid), "relation_to_head": "head"}
    assert body["disability"] == {"category": "physical", "category_label": "肢体残疾", "grade": 2}
    assert body["self_care"] == "partial"
    assert body["health_flags"] == ["chronic"]
    assert body["tags"] == ["高龄"]
    assert body["deceased_on"] is None
    assert body["address_masked"].endswith("****")
    assert "501" not in body["address_masked"]
    for secret in ("id", "id_sealed", "id_bidx", "address_sealed", "area_path", "pk"):
        assert secret not in body


def post(client: Client, url: str, payload: dict[str, Any], status: int) -> dict[str, Any]:
    """POST JSON to ``url`` with the same checks as ``call``."""
    response = client.post(url, payload, content_type="application/json")
    body = response.content.decode()
    assert response.status_code == status, body
    assert not FULL_ID.search(body), f"full ID number in {url}: {body}"
    assert not FULL_PHONE.search(body), f"full phone number in {url}: {body}"
    return response.json()


@pytest.mark.django_db
def test_search_by_full_id_number_is_posted_and_not_echoed(worker_a: Client, people: Any) -> None:
    from conftest import synthetic_id

    # make_person gives the n-th person of a test sequence 100 + n: 张三 is the first.
    full = synthetic_id(birth="19400101", seq=101)
    assert people["a"].id_masked == full[:6] + "*" * 8 + full[-4:]
    body = post(worker_a, "/api/v1/people/search", {"q": full}, 200)
    assert body["mode"] == "id_number"
    assert uids(body) == {str(people["a"].uid)}
    body = post(worker_a, "/api/v1/people/search", {"q": "13800000001"}, 200)
    assert body["mode"] == "phone"
    assert uids(body) == {str(people["a"].uid)}
    # A name by POST too; a name and a phone tail still by URL.
    assert uids(post(worker_a, "/api/v1/people/search", {"q": "张三"}, 200)) == {str(people["a"].uid)}
    assert call(worker_a, "/api/v1/people/search?q=0001", 200)["mode"] == "phone_tail"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/people/search", "/api/v1/people"])
@pytest.mark.parametrize("number", ["full_id", "13800000001", "13800"])
def test_an_identifier_in_a_url_is_refused(worker_a: Client, people: Any, path: str, number: str) -> None:
    from conftest import synthetic_id

    q = synthetic_id(birth="19400101", seq=101) if number == "full_id" else number
    body = call(worker_a, f"{path}?q={q}", 400)  # call() also checks that the answer does not echo it
    assert body["code"] == "identifier_in_url"
    assert "POST /api/v1/people/search" in body["extra"]["fields"]["q"]


@pytest.mark.django_db
def test_filters_and_paging(district: Client, make_staff: Any, people: Any) -> None:
    from minzheng.people.services import person_record_death

    admin = make_staff(roles=["district_admin"], division=DISTRICT)
    person_record_death(actor=admin, person=people["b"], died_on=timezone.localdate() - timedelta(days=3))

    assert call(district, "/api/v1/people", 200)["count"] == 2
    deceased = call(district, "/api/v1/people?status=deceased", 200)
    assert uids(deceased) == {str(people["b"].uid)}
    assert call(district, "/api/v1/people?status=all", 200)["count"] == 3
    assert uids(call(district, "/api/v1/people?living_arrangement=alone", 200)) == {str(people["a2"].uid)}

    first = call(district, "/api/v1/people?status=all&limit=2", 200)
    second = call(district, "/api/v1/people?status=all&limit=2&offset=2", 200)
    assert (first["count"], len(first["items"]), second["count"], len(second["items"])) == (3, 2, 3, 1)
    assert not uids(first) & uids(second)
    assert call(district, "/api/v1/people?offset=50", 200)["items"] == []


@pytest.mark.django_db
def test_divisions(district: Client) -> None:
    body = call(district, "/api/v1/divisions?level=township", 200)
    assert body["count"] == 12
    assert {d["level"] for d in body["items"]} == {"township"}
    within = call(district, f"/api/v1/divisions?within={WUCHANG}&level=village", 200)
    assert COMMUNITY_A in {d["code"] for d in within["items"]}
    assert all(d["parent_code"] == WUCHANG for d in within["items"])

    one = call(district, f"/api/v1/divisions/{WUCHANG}", 200)
    assert one["parent"]["code"] == DISTRICT
    assert one["children_count"] == within["count"]
    assert call(district, f"/api/v1/divisions/{DISTRICT}", 200)["children_count"] == 12

    missing = call(district, "/api/v1/divisions/330110999999", 404)
    assert missing["code"] == "unknown_division"
    assert missing["message"] == "区划不存在"


# --- Bad input: 400 validation_failed naming the field, never a 500 ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=-1", "limit", "不能小于1"),
        ("limit=0", "limit", "不能小于1"),
        ("limit=abc", "limit", "须为整数"),
        ("limit=101", "limit", "不能大于100"),
        ("limit=1.5", "limit", "须为整数"),
        ("limit=" + "9" * 5000, "limit", None),
        ("offset=-5", "offset", "不能小于0"),
        ("offset=99999999999999999999", "offset", "不能大于1000000000"),
        ("status=bogus", "status", None),
        ("living_arrangement=x", "living_arrangement", None),
        ("division=abc", "division", "格式不正确"),
        ("division=33011000500%00", "division", "格式不正确"),
        ("q=" + "张" * 41, "q", "不能超过40个字符"),
    ],
)
def test_bad_list_parameters(worker_a: Client, query: str, field: str, message: str | None) -> None:
    body = call(worker_a, f"/api/v1/people?{query}", 400)
    assert body["code"] == "validation_failed"
    assert field in body["extra"]["fields"], body
    if message:
        assert body["extra"]["fields"][field] == message
    assert field in body["message"]
    assert re.search(r"[\u4e00-\u9fff]", body["extra"]["fields"][field])


@pytest.mark.django_db
def test_bad_parameters_elsewhere(district: Client) -> None:
    body = call(district, "/api/v1/people/search", 400)
    assert body["extra"]["fields"] == {"q": "必填"}
    assert call(district, "/api/v1/people/search?q=", 400)["extra"]["fields"] == {"q": "必填"}
    # A well-formed code of no division: 404 like /divisions/{code}, naming the parameter.
    unknown = call(district, "/api/v1/people?division=330110999999", 404)
    assert unknown["code"] == "unknown_division"
    assert unknown["extra"]["fields"] == {"division": "区划不存在"}
    assert call(district, "/api/v1/divisions?within=330110999999", 404)["extra"]["fields"] == {"within": "区划不存在"}
    assert "level" in call(district, "/api/v1/divisions?level=galaxy", 400)["extra"]["fields"]
    # Search text that is no known form finds nothing, without an error.
    assert call(district, "/api/v1/people/search?q=%00%27--", 200) == {
        "mode": "invalid", "count": 0, "limit": 50, "items": []
    }


# --- Query counts ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 20])
def test_list_query_count_does_not_grow_with_the_page(
    make_person: Any, client: Client, django_assert_num_queries: Any, rows: int
) -> None:
    for i in range(rows):
        make_person("张" + "一二三四五六七八九十"[i % 10] + "甲乙"[i // 10], division=COMMUNITY_A, birth=f"19{40 + i}0101")
    from minzheng.divisions.selectors import division_index

    _, raw = make_key()
    # 1 key lookup, 1 last-used update, 1 count, 1 page (division and township joined), 1 phones.
    with django_assert_num_queries(5):
        body = call(client, "/api/v1/people?limit=100", 200, **{"X-API-Key": raw})
    assert len(body["items"]) == rows
    division_index()  # reference data, read once per process
    # The search (divisions from the index) and phones: the key was looked up and touched less
    # than a minute ago, and accounts.selectors keeps it for API_KEY_CACHE_SECONDS.
    with django_assert_num_queries(2):
        call(client, "/api/v1/people/search?q=张", 200, **{"X-API-Key": raw})


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [2, 20])
def test_list_query_count_with_a_session(
    make_person: Any, worker_a: Client, django_assert_num_queries: Any, rows: int
) -> None:
    for i in range(rows):
        make_person("李" + "一二三四五六七八九十"[i % 10] + "甲乙"[i // 10], division=COMMUNITY_A, birth=f"19{40 + i}0202")
    # session, staff, roles; count, page, phones; the session saved (savepoint, update, release).
    with django_assert_num_queries(9):
        body = call(worker_a, "/api/v1/people?limit=100", 200)
    assert len(body["items"]) == rows


# --- CSRF for the browser's session ----------------------------------------------------------


@pytest.mark.django_db
def test_session_auth_checks_csrf_on_unsafe_methods(make_staff: Any) -> None:
    import json

    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory
    from ninja.errors import HttpError

    from minzheng.web.api import StaffSessionAuth, api

    staff, auth, rf = make_staff(), StaffSessionAuth(), RequestFactory()

    def request(method: str, *, cookie: bool = True, user: Any = staff) -> Any:
        req = getattr(rf, method)("/api/v1/people")
        if cookie:
            req.COOKIES[settings.SESSION_COOKIE_NAME] = "session-key"
        req.user = user
        return req

    assert auth(request("get")) == staff
    with pytest.raises(HttpError) as refused:
        auth(request("post"))
    response = api.on_exception(request("post"), refused.value)
    assert response.status_code == 403
    assert json.loads(response.content)["code"] == "csrf_failed"
    # No session cookie: nothing to forge, so no CSRF refusal (a machine's key may still answer).
    assert auth(request("post", cookie=False, user=AnonymousUser())) is None
