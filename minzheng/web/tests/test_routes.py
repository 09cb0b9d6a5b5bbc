"""Deny by default (security AC-1) and the authorization matrix of every staff route.

Each ``web:`` route is tried anonymous / signed in without the permission / from another area /
allowed (DESIGN §8), and every refused POST leaves the database as it was (A4, A6, A12).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from conftest import (
    COMMUNITY_A,
    COMMUNITY_B,
    DISTRICT,
    LIANGZHU,
    STRONG_PASSWORD,
    WUCHANG,
    synthetic_id,
)
from minzheng.core.access import ADMIN_ROLES, Role, declared_permissions, holders_of, is_public
from minzheng.people.services import household_create, minor_access_request
from minzheng.web.tests import urls_undeclared

FULL_ID = re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])")
NOT_FOUND_TEXT = "记录不存在或不在您的管辖范围内"
EXPORT_REASON = "年度高龄津贴发放名单核对"

# --- The URLconf walk -----------------------------------------------------------------------


def walk(resolver: Any = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, URLPattern]]:
    """Every URL pattern below ``resolver``: (route text, 'namespace:name', pattern)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace or ""]))
            yield from walk(entry, prefix + str(entry.pattern), ns)
        else:
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield prefix + str(entry.pattern), name, entry


def undeclared_routes(resolver: Any = None) -> list[str]:
    return [
        route
        for route, _name, pattern in walk(resolver)
        if not getattr(pattern.callback, "api_delegated", False) and declared_permissions(pattern.callback) is None
    ]


def test_every_route_declares_its_permissions() -> None:
    patterns = list(walk())
    assert len(patterns) >= 22, "the walk must see the staff routes"
    assert undeclared_routes() == [], "routes without @requires/@login_only/@public are refused in production"


def test_only_the_sign_in_pages_and_health_check_are_public() -> None:
    public = sorted(name for _route, name, p in walk() if not getattr(p.callback, "api_delegated", False)
                    and is_public(p.callback))
    assert public == ["web:healthz", "web:login", "web:login-otp", "web:login-otp-setup"]


def test_the_walk_finds_a_view_that_declares_nothing() -> None:
    resolver = get_resolver(urls_undeclared)
    assert undeclared_routes(resolver) == ["undeclared/"]


@pytest.mark.urls("minzheng.web.tests.urls_undeclared")
def test_a_view_that_declares_nothing_is_refused(client: Client, make_staff: Callable[..., Any],
                                                  login: Callable[[Any], Client]) -> None:
    urls_undeclared.CALLS.clear()
    anonymous = client.get("/undeclared/")
    assert anonymous.status_code == 403
    login(make_staff(("district_admin",), DISTRICT))
    signed_in = client.get("/undeclared/")
    assert signed_in.status_code == 403
    for response in (anonymous, signed_in):
        body = response.content.decode()
        assert "此页面未声明访问权限" in body
        assert "王秀英" not in body
    assert urls_undeclared.CALLS == [], "the undeclared view must never run"


# --- The matrix -----------------------------------------------------------------------------

BUSINESS = frozenset({Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER, Role.CASEWORKER})
RECORD_KEEPERS = frozenset({Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF, Role.COMMUNITY_WORKER})
READERS = BUSINESS | {Role.MONITORING_OPERATOR}
APPROVERS = frozenset({Role.DISTRICT_ADMIN, Role.TOWNSHIP_STAFF})
EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Route:
    name: str
    methods: tuple[str, ...]
    allowed: frozenset[str] = frozenset()  # roles that may use it
    arg: str = ""  # "person", "minor", "household", "staff", "grant", "export" or "" (no argument)
    public: bool = False
    actor: str = ""  # the role used for the "allowed" case

    def __str__(self) -> str:
        return self.name


ROUTES = [
    Route("healthz", ("GET",), public=True),
    Route("login", ("GET", "POST"), public=True),
    Route("login-otp", ("GET", "POST"), public=True),
    Route("login-otp-setup", ("GET", "POST"), public=True),
    Route("home", ("GET",), EVERYONE, actor=Role.CANTEEN_OPERATOR),
    Route("logout", ("POST",), EVERYONE, actor=Role.CANTEEN_OPERATOR),
    Route("password-change", ("GET", "POST"), EVERYONE, actor=Role.CANTEEN_OPERATOR),
    Route("person-list", ("GET", "POST"), READERS, actor=Role.COMMUNITY_WORKER),
    Route("person-export", ("GET",), RECORD_KEEPERS, actor=Role.COMMUNITY_WORKER),
    Route("export-approval-request", ("POST",), RECORD_KEEPERS, actor=Role.COMMUNITY_WORKER),
    Route("person-create", ("GET", "POST"), RECORD_KEEPERS, actor=Role.COMMUNITY_WORKER),
    Route("person-detail", ("GET",), READERS, "person", actor=Role.COMMUNITY_WORKER),
    Route("person-edit", ("GET", "POST"), RECORD_KEEPERS, "person", actor=Role.COMMUNITY_WORKER),
    Route("person-reveal", ("POST",), BUSINESS, "person", actor=Role.COMMUNITY_WORKER),
    Route("person-life-event", ("POST",), RECORD_KEEPERS, "person", actor=Role.COMMUNITY_WORKER),
    Route("household-detail", ("GET",), READERS, "household", actor=Role.COMMUNITY_WORKER),
    Route("minor-access-request", ("POST",), READERS, "minor", actor=Role.COMMUNITY_WORKER),
    Route("minor-access-queue", ("GET",), APPROVERS, actor=Role.TOWNSHIP_STAFF),
    Route("minor-access-decide", ("POST",), APPROVERS, "grant", actor=Role.TOWNSHIP_STAFF),
    Route("export-approval-queue", ("GET",), APPROVERS, actor=Role.TOWNSHIP_STAFF),
    Route("export-approval-decide", ("POST",), APPROVERS, "export", actor=Role.TOWNSHIP_STAFF),
    Route("audit-log", ("GET",), frozenset({Role.AUDITOR}), actor=Role.AUDITOR),
    Route("staff-list", ("GET",), frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN}), actor=Role.SYSTEM_ADMIN),
    Route("staff-create", ("GET", "POST"), frozenset({Role.SYSTEM_ADMIN}), actor=Role.SYSTEM_ADMIN),
    Route("staff-roles", ("GET", "POST"), frozenset({Role.SECURITY_ADMIN}), "staff", actor=Role.SECURITY_ADMIN),
    Route("staff-unlock", ("POST",), frozenset({Role.SECURITY_ADMIN}), "staff", actor=Role.SECURITY_ADMIN),
    Route("staff-disable", ("POST",), frozenset({Role.SYSTEM_ADMIN}), "staff", actor=Role.SYSTEM_ADMIN),
    Route("api-key-create", ("GET", "POST"), frozenset({Role.SYSTEM_ADMIN}), actor=Role.SYSTEM_ADMIN),
]
BY_NAME = {r.name: r for r in ROUTES}
PRIVATE = [r for r in ROUTES if not r.public]
ROLE_DIVISION = {Role.DISTRICT_ADMIN: DISTRICT, Role.TOWNSHIP_STAFF: WUCHANG} | dict.fromkeys(ADMIN_ROLES, DISTRICT)


def test_the_matrix_covers_every_staff_route() -> None:
    mounted = sorted(name.removeprefix("web:") for _route, name, _p in walk() if name.startswith("web:"))
    assert mounted == sorted(BY_NAME), "add the new route to ROUTES with who may use it"


@pytest.mark.parametrize("route", PRIVATE, ids=str)
def test_the_matrix_agrees_with_the_declared_permissions(route: Route) -> None:
    view = get_resolver().resolve(_example_path(route)).func
    perms = declared_permissions(view)
    assert perms is not None
    granted = {str(role) for role in Role if all(str(role) in holders_of(p) for p in perms)}
    assert granted == {str(r) for r in route.allowed}


def _example_path(route: Route) -> str:
    uid = {"uid": "00000000-0000-0000-0000-000000000000"}
    kwargs = {"person": uid, "minor": uid, "household": {"uid": "x"},
              "staff": {"pk": 1}, "grant": {"grant_id": 1}, "export": {"approval_id": 1}}.get(route.arg, {})
    return reverse(f"web:{route.name}", kwargs=kwargs)


@dataclass
class World:
    person_a: Any
    person_b: Any
    household_a: Any
    household_b: Any
    target: Any  # a locked caseworker in 社区A that the 三员 manage
    grant: Any  # a pending request to open a minor's record in 社区A
    minor: Any  # that minor, in 社区A
    minor_b: Any  # a minor in 社区B
    export_approval: Any  # a pending request to export more than 100 rows of 社区A
    make_staff: Callable[..., Any]

    def staff(self, role: str, division: str | None = None) -> Any:
        return self.make_staff((role,), division or ROLE_DIVISION.get(role, COMMUNITY_A))

    def url(self, route: Route, *, other_area: bool = False) -> str:
        if route.arg == "person":
            kwargs: dict[str, Any] = {"uid": (self.person_b if other_area else self.person_a).uid}
        elif route.arg == "minor":
            kwargs = {"uid": (self.minor_b if other_area else self.minor).uid}
        elif route.arg == "household":
            kwargs = {"uid": (self.household_b if other_area else self.household_a).uid}
        elif route.arg == "staff":
            kwargs = {"pk": self.target.pk}
        elif route.arg == "grant":
            kwargs = {"grant_id": self.grant.pk}
        elif route.arg == "export":
            kwargs = {"approval_id": self.export_approval.pk}
        else:
            kwargs = {}
        return reverse(f"web:{route.name}", kwargs=kwargs)


@pytest.fixture
def world(make_staff: Callable[..., Any], make_person: Callable[..., Any]) -> World:
    keeper = make_staff((Role.DISTRICT_ADMIN,), DISTRICT, username="keeper")
    person_a = make_person("王秀英", COMMUNITY_A, birth="19400101")
    person_b = make_person("李建国", COMMUNITY_B, birth="19410202")
    household_a = household_create(actor=keeper, head=person_a)
    household_b = household_create(actor=keeper, head=person_b)
    target = make_staff((Role.CASEWORKER,), COMMUNITY_A, username="target")
    _model("accounts", "Staff").objects.filter(pk=target.pk).update(locked_until=timezone.now() + timedelta(hours=1))
    minor = make_person("王小明", COMMUNITY_A, birth="20150601")
    grant = minor_access_request(actor=target, person_uid=minor.uid, reason="困境儿童季度走访")
    minor_b = make_person("李小红", COMMUNITY_B, birth="20160702")
    export_approval = _model("people", "ExportApproval").objects.create(
        requested_by_id=target.pk, requested_by_name=target.username, reason=EXPORT_REASON,
        scope_path=_model("divisions", "Division").objects.get(code=COMMUNITY_A).path,
        criteria={"status": "active"}, fingerprint="0" * 64, description="顾家桥社区 · 在册", row_count=150,
    )
    return World(person_a, person_b, household_a, household_b, target, grant, minor, minor_b, export_approval,
                 make_staff)


def _model(app: str, name: str) -> Any:
    return apps.get_model(app, name)


def post_data(route: Route) -> dict[str, Any]:
    """Valid form data: what would change something if the request were allowed."""
    return {
        "login": {"username": "target", "password": STRONG_PASSWORD},
        "login-otp": {"token": "123456"},
        "login-otp-setup": {"token": "123456"},
        "logout": {},
        "password-change": {"old_password": STRONG_PASSWORD, "new_password": "Another#Strong2025",
                            "new_password2": "Another#Strong2025"},
        "person-create": {"name": "赵新民", "id_number": synthetic_id(birth="19480303", seq=777),
                          "division_code": COMMUNITY_A, "phones": "13900001111",
                          "living_arrangement": "alone", "self_care": "independent"},
        "person-edit": {"name": "王改名", "division_code": COMMUNITY_A, "phones": "",
                        "living_arrangement": "alone", "self_care": "partial"},
        "person-reveal": {"field": "id_number", "reason": "核对低保申请材料"},
        "person-life-event": {"kind": "death", "on": "2024-01-02"},
        "minor-access-request": {"reason": "核对监护人信息"},
        "minor-access-decide": {"decision": "approve"},
        "person-list": {"q": "13800000001"},  # a full phone number: searched by POST
        "export-approval-request": {"q": "", "status": "active", "reason": "报街道汇总高龄老人名单"},
        "export-approval-decide": {"decision": "approve"},
        "staff-create": {"username": "newcomer", "full_name": "新同事", "division_code": COMMUNITY_A,
                         "password": STRONG_PASSWORD},
        "staff-roles": {"roles": [Role.DISTRICT_ADMIN]},
        "staff-unlock": {},
        "staff-disable": {"reason": "调离岗位"},
        "api-key-create": {"name": "顾家桥助餐点1号终端", "purpose": "canteen_terminal",
                           "division_code": COMMUNITY_A},
    }[route.name]


def state() -> dict[str, Any]:
    """What a refused request must not change. Audit rows count only when they record a success:
    a refusal may leave a trace ("denied"), never the action itself."""
    audit = _model("core", "AuditEvent").objects.filter(result="success")
    return {
        "persons": sorted(_model("people", "Person").objects.values_list(
            "uid", "name", "status", "living_arrangement", "self_care", "division_id")),
        "phones": _model("people", "PersonPhone").objects.count(),
        "staff": sorted(_model("accounts", "Staff").objects.values_list(
            "username", "is_active", "locked_until", "password")),
        "roles": sorted(_model("accounts", "StaffRole").objects.values_list("staff__username", "role")),
        "api_keys": _model("accounts", "ApiKey").objects.count(),
        "grants": sorted(_model("people", "MinorAccessGrant").objects.values_list(
            "person__uid", "requested_by_id", "status")),
        "export_approvals": sorted(_model("people", "ExportApproval").objects.values_list(
            "pk", "requested_by_id", "status", "decided_by_id", "used_at")),
        "exports": _model("people", "ExportRecord").objects.count(),
        "audit": Counter(audit.values_list("event_type", flat=True)),
    }


def request(client: Client, method: str, url: str, route: Route) -> Any:
    if method == "POST":
        return client.post(url, post_data(route))
    return client.get(url)


def _cases(select: Callable[[Route], list[str]]) -> list[Any]:
    return [pytest.param(route, item, id=f"{route.name}-{item}") for route in ROUTES for item in select(route)]


# (a) anonymous ------------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "method"), _cases(lambda r: list(r.methods) if not r.public else []))
def test_anonymous_is_sent_to_login(client: Client, world: World, route: Route, method: str) -> None:
    before = state()
    response = request(client, method, world.url(route), route)
    assert response.status_code == 302
    assert response.url.startswith("/login/?next=")
    assert state() == before
    assert "请先登录" in client.get(response.url).content.decode()


@pytest.mark.parametrize("name", ["login", "healthz"])
def test_public_pages_open_to_anonymous(client: Client, world: World, name: str) -> None:
    response = client.get(world.url(BY_NAME[name]))
    assert response.status_code == 200
    assert ("余杭区民政综合服务平台" if name == "login" else '"ok"') in response.content.decode()


@pytest.mark.parametrize("name", ["login-otp", "login-otp-setup"])
def test_second_factor_pages_need_a_password_first(client: Client, world: World, name: str) -> None:
    before = state()
    for method in ("GET", "POST"):
        response = request(client, method, world.url(BY_NAME[name]), BY_NAME[name])
        assert response.status_code == 302
        assert response.url == "/login/"
    assert state() == before


# (b) signed in without the permission --------------------------------------------------------


def _denied(route: Route) -> list[str]:
    return [f"{role}:{m}" for role in Role for m in route.methods if not route.public and role not in route.allowed]


@pytest.mark.parametrize(("route", "case"), _cases(_denied))
def test_without_the_permission_is_refused(client: Client, world: World, login: Callable[[Any], Client],
                                           route: Route, case: str) -> None:
    role, method = case.split(":")
    login(world.staff(role))
    before = state()
    response = request(client, method, world.url(route), route)
    assert response.status_code == 403
    body = response.content.decode()
    assert "无权访问" in body
    assert world.person_a.name not in body
    assert state() == before


def test_three_admins_see_no_person_record(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    for role in sorted(ADMIN_ROLES):
        login(world.staff(role))
        for name in ("person-list", "person-detail", "household-detail", "person-export"):
            assert client.get(world.url(BY_NAME[name])).status_code == 403, (role, name)
        home = client.get("/").content.decode()
        assert "人员查询" not in home, f"{role} must not be offered the person search"


# (c) another area ------------------------------------------------------------------------------


def _scoped(route: Route) -> list[str]:
    return list(route.methods) if route.arg in ("person", "minor", "household") else []


@pytest.mark.parametrize(("route", "method"), _cases(_scoped))
def test_other_area_person_is_not_found(client: Client, world: World, login: Callable[[Any], Client],
                                        route: Route, method: str) -> None:
    login(world.staff(Role.COMMUNITY_WORKER, COMMUNITY_A))
    before = state()
    response = request(client, method, world.url(route, other_area=True), route)
    assert response.status_code == 404
    body = response.content.decode()
    assert NOT_FOUND_TEXT in body
    assert world.person_b.name not in body
    assert world.person_b.id_masked not in body
    assert state() == before


def _managed(route: Route) -> list[str]:
    return list(route.methods) if route.arg in ("staff", "grant", "export") else []


@pytest.mark.parametrize(("route", "method"), _cases(_managed))
def test_other_area_account_or_approval_is_not_found(client: Client, world: World, login: Callable[[Any], Client],
                                                     route: Route, method: str) -> None:
    login(world.staff(route.actor, LIANGZHU))  # 良渚 manages neither 五常's accounts nor its approvals
    before = state()
    response = request(client, method, world.url(route), route)
    assert response.status_code == 404
    body = response.content.decode()
    assert "不在您的管辖范围内" in body
    assert "王小明" not in body
    assert state() == before


def test_township_staff_sees_both_communities(client: Client, world: World,
                                              login: Callable[[Any], Client]) -> None:
    login(world.staff(Role.TOWNSHIP_STAFF, WUCHANG))
    for person in (world.person_a, world.person_b):
        response = client.get(reverse("web:person-detail", kwargs={"uid": person.uid}))
        assert response.status_code == 200
        assert person.name in response.content.decode()


# (d) allowed -----------------------------------------------------------------------------------

PAGE_TEXT = {
    "home": "您好", "password-change": "修改密码", "person-list": "人员查询", "person-create": "新增人员",
    "person-detail": "王秀英", "person-edit": "编辑 王秀英", "household-detail": "家庭户",
    "audit-log": "审计日志", "staff-list": "工作人员", "staff-create": "新建工作人员账号",
    "staff-roles": "角色授予", "api-key-create": "签发接口密钥", "minor-access-queue": "王小明",
    "export-approval-queue": EXPORT_REASON,
}


@pytest.mark.parametrize("route", [r for r in PRIVATE if "GET" in r.methods], ids=str)
def test_allowed_get(client: Client, world: World, login: Callable[[Any], Client], route: Route) -> None:
    login(world.staff(route.actor))
    response = client.get(world.url(route))
    assert response.status_code == 200
    if route.name == "person-export":
        assert response["Content-Type"].startswith("application/vnd.openxmlformats")
        return
    body = response.content.decode()
    assert PAGE_TEXT[route.name] in body
    assert not FULL_ID.search(body)


@pytest.mark.parametrize("route", [r for r in PRIVATE if r.name in ("person-detail", "person-list")], ids=str)
def test_every_allowed_role_gets_the_page(client: Client, world: World, login: Callable[[Any], Client],
                                          route: Route) -> None:
    for role in sorted(route.allowed):
        login(world.staff(role))
        assert client.get(world.url(route)).status_code == 200, role


def _success(event_type: str) -> int:
    return _model("core", "AuditEvent").objects.filter(event_type=event_type, result="success").count()


def _post_allowed(client: Client, world: World, login: Callable[[Any], Client], name: str) -> Any:
    route = BY_NAME[name]
    actor = world.staff(route.actor)
    login(actor)
    response = client.post(world.url(route), post_data(route))
    return actor, response


def test_allowed_reveal_shows_the_number_and_audits(client: Client, world: World,
                                                     login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "person-reveal")
    assert response.status_code == 200
    assert FULL_ID.search(response.content.decode())
    assert _success("person.reveal") == 1


def test_allowed_life_event_records_the_death(client: Client, world: World,
                                              login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "person-life-event")
    assert response.status_code == 302
    assert "已登记死亡" in client.get(response.url).content.decode()
    assert _model("people", "Person").objects.get(pk=world.person_a.pk).status == "deceased"


def test_allowed_person_create_registers_the_person(client: Client, world: World,
                                                    login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "person-create")
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "已登记 赵新民" in page
    assert _model("people", "Person").objects.filter(name="赵新民").count() == 1


def test_allowed_person_edit_saves_and_keeps_the_phones(client: Client, world: World,
                                                        login: Callable[[Any], Client]) -> None:
    masked_phone = world.person_a.phones.get().masked
    _actor, response = _post_allowed(client, world, login, "person-edit")
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert "王改名" in page
    assert "半失能" in page
    assert masked_phone in page, "a blank phone field means 'keep the phones' (留空则不修改)"


def test_allowed_minor_access_request(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "minor-access-request")
    assert response.status_code == 302
    assert "申请已提交" in client.get(response.url).content.decode()
    assert _success("minor_access.request") == 2  # the fixture's and this one


def test_allowed_minor_access_decide(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "minor-access-decide")
    assert response.status_code == 302
    assert "已批准" in client.get(response.url).content.decode()
    assert _model("people", "MinorAccessGrant").objects.get(pk=world.grant.pk).status == "approved"
    assert _success("minor_access.approve") == 1


def test_allowed_person_list_post_finds_by_full_phone(client: Client, world: World,
                                                     login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "person-list")
    assert response.status_code == 200
    body = response.content.decode()
    assert "王秀英" in body
    assert "13800000001" not in body, "the page names the number masked"
    htmx = client.post(world.url(BY_NAME["person-list"]), {**post_data(BY_NAME["person-list"]), "status": "active"},
                       headers={"HX-Request": "true"})
    assert htmx["HX-Push-Url"] == "/people/?status=active"


def test_allowed_export_approval_request(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "export-approval-request")
    assert response.status_code == 302
    # 社区A holds 2 residents: no approval is needed, and none is recorded
    assert "无需审批,可直接导出" in client.get(response.url).content.decode()
    assert _model("people", "ExportApproval").objects.count() == 1  # the fixture's


def test_allowed_export_approval_decide(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "export-approval-decide")
    assert response.status_code == 302
    assert "已批准" in client.get(response.url).content.decode()
    assert _model("people", "ExportApproval").objects.get(pk=world.export_approval.pk).status == "approved"
    assert _success("export_approval.approve") == 1


def test_allowed_logout_ends_the_session(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "logout")
    assert response.status_code == 302
    assert response.url == "/login/"
    assert _success("logout") == 1
    assert client.get("/").status_code == 302


def test_allowed_password_change(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    actor, response = _post_allowed(client, world, login, "password-change")
    assert response.status_code == 302
    assert "密码已修改" in client.get(response.url).content.decode()
    assert _model("accounts", "Staff").objects.get(pk=actor.pk).check_password("Another#Strong2025")


def test_allowed_staff_create(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "staff-create")
    assert response.status_code == 302
    assert "已创建账号 newcomer" in client.get(response.url).content.decode()
    assert _success("staff.create") >= 1


def test_allowed_staff_roles(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "staff-roles")
    assert response.status_code == 302
    roles = _model("accounts", "StaffRole").objects.filter(staff=world.target)
    assert list(roles.values_list("role", flat=True)) == [Role.DISTRICT_ADMIN]


def test_allowed_staff_unlock(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "staff-unlock")
    assert response.status_code == 302
    assert _model("accounts", "Staff").objects.get(pk=world.target.pk).locked_until is None
    assert _success("staff.unlock") == 1


def test_allowed_staff_disable(client: Client, world: World, login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "staff-disable")
    assert response.status_code == 302
    assert not _model("accounts", "Staff").objects.get(pk=world.target.pk).is_active


def test_allowed_api_key_create_shows_the_secret_once(client: Client, world: World,
                                                      login: Callable[[Any], Client]) -> None:
    _actor, response = _post_allowed(client, world, login, "api-key-create")
    assert response.status_code == 200
    assert "密钥已签发" in response.content.decode()
    assert _model("accounts", "ApiKey").objects.count() == 1


# CSRF (A12) --------------------------------------------------------------------------------


def _csrf_client(staff: Any) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    session = client.session
    session["mz_auth_at"] = time.time()
    session.save()
    return client


@pytest.mark.parametrize("route", [r for r in PRIVATE if "POST" in r.methods], ids=str)
def test_post_without_csrf_token_is_refused(world: World, route: Route) -> None:
    client = _csrf_client(world.staff(route.actor))
    before = state()
    response = client.post(world.url(route), post_data(route))
    assert response.status_code == 403
    assert "CSRF验证失败" in response.content.decode()
    assert state() == before


def test_login_without_csrf_token_is_refused(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", post_data(BY_NAME["login"]))
    assert response.status_code == 403
    assert _success("login.success") == 0


def test_post_with_the_csrf_token_goes_through(world: World) -> None:
    client = _csrf_client(world.staff(Role.COMMUNITY_WORKER))
    assert client.get(world.url(BY_NAME["person-detail"])).status_code == 200
    token = client.cookies["csrftoken"].value
    response = client.post(world.url(BY_NAME["person-reveal"]), post_data(BY_NAME["person-reveal"]),
                           headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert _success("person.reveal") == 1
