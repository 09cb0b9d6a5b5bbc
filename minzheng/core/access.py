"""Roles, permissions and the declaration every route must make (DESIGN §5, security AC-1/AC-3).

Permissions are string enums declared in each app's ``permissions.py`` together with the roles
that hold them (``GRANTS``); apps register them in ``AppConfig.ready()``. A view declares what it
needs with ``@requires(...)`` or ``@public``; the route middleware refuses any view that declares
nothing (deny by default), and a test walks the URLconf for the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import Any, Protocol, TypeVar


class Role(StrEnum):
    DISTRICT_ADMIN = "district_admin"
    TOWNSHIP_STAFF = "township_staff"
    COMMUNITY_WORKER = "community_worker"
    CASEWORKER = "caseworker"
    CANTEEN_OPERATOR = "canteen_operator"
    MONITORING_OPERATOR = "monitoring_operator"
    AUDITOR = "auditor"
    SECURITY_ADMIN = "security_admin"
    SYSTEM_ADMIN = "system_admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.DISTRICT_ADMIN: "区级管理员",
    Role.TOWNSHIP_STAFF: "街道(镇)工作人员",
    Role.COMMUNITY_WORKER: "社区(村)工作人员",
    Role.CASEWORKER: "社工/走访员",
    Role.CANTEEN_OPERATOR: "助餐点操作员",
    Role.MONITORING_OPERATOR: "监护中心值班员",
    Role.AUDITOR: "审计管理员",
    Role.SECURITY_ADMIN: "安全管理员",
    Role.SYSTEM_ADMIN: "系统管理员",
}

class MachinePurpose(StrEnum):
    """What a machine's API key is for; grants name purposes as they name roles."""

    CANTEEN_TERMINAL = "canteen_terminal"
    SENSOR_GATEWAY = "sensor_gateway"
    PEER_SYSTEM = "peer_system"

    @property
    def label(self) -> str:
        return PURPOSE_LABELS[self]


PURPOSE_LABELS = {
    MachinePurpose.CANTEEN_TERMINAL: "助餐点结算终端",
    MachinePurpose.SENSOR_GATEWAY: "传感器网关",
    MachinePurpose.PEER_SYSTEM: "对接系统",
}

# 三员分立: each of these excludes every other role, and none of them reads person records.
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})


class Actor(Protocol):
    """Whoever acts: a staff member (accounts.Staff) or a machine key. Selectors scope by it."""

    pk: Any

    @property
    def scope_path(self) -> str: ...

    @property
    def is_machine(self) -> bool: ...

    def has_permission(self, perm: str) -> bool: ...


Grantee = Role | MachinePurpose
_grants: dict[str, set[str]] = defaultdict(set)


def register_grants(grants: Mapping[Any, Iterable[Grantee]]) -> None:
    for perm, roles in grants.items():
        _grants[str(perm)].update(str(r) for r in roles)


def holders_of(perm: str) -> frozenset[str]:
    """The roles and machine purposes granted ``perm``."""
    return frozenset(_grants.get(str(perm), ()))


def permissions_of(grantees: Iterable[str]) -> frozenset[str]:
    held = {str(g) for g in grantees}
    return frozenset(p for p, gs in _grants.items() if gs & held)


def all_permissions() -> frozenset[str]:
    return frozenset(_grants)


F = TypeVar("F", bound=Callable[..., Any])


def requires(*perms: str) -> Callable[[F], F]:
    """Declare the permissions a view needs (all of them). Enforced by RouteAccessMiddleware."""

    def mark(view: F) -> F:
        view.required_permissions = tuple(str(p) for p in perms)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Declare a view that anyone may call (login page, health check, static)."""
    view.required_permissions = ()  # type: ignore[attr-defined]
    view.is_public = True  # type: ignore[attr-defined]
    return view


def login_only(view: F) -> F:
    """Any signed-in staff member (home page, logout, own password change)."""
    view.required_permissions = ()  # type: ignore[attr-defined]
    view.is_public = False  # type: ignore[attr-defined]
    return view


def declared_permissions(view: Any) -> tuple[str, ...] | None:
    """The permissions a view declared, or None when it declared nothing (then it is refused)."""
    target = getattr(view, "view_class", None) or view
    for candidate in (view, target, getattr(view, "__wrapped__", None)):
        if candidate is not None and hasattr(candidate, "required_permissions"):
            return tuple(candidate.required_permissions)
    return None


def is_public(view: Any) -> bool:
    target = getattr(view, "view_class", None) or view
    return bool(getattr(view, "is_public", False) or getattr(target, "is_public", False))
