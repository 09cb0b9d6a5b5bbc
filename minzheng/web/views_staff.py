"""Account administration for the 三员: accounts and keys (系统管理员), roles and unlocks (安全管理员)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minzheng.accounts import services as account_services
from minzheng.accounts.permissions import AccountPerm
from minzheng.accounts.selectors import api_key_list, staff_get, staff_list
from minzheng.core.access import MachinePurpose, Role, requires
from minzheng.core.exceptions import ApplicationError, ValidationFailed
from minzheng.divisions.selectors import division_list


@requires(AccountPerm.VIEW_ACCOUNTS)
@require_GET
def staff_list_view(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    return render(request, "web/staff/list.html", {
        "staff": staff_list(actor=actor),
        "now": timezone.now(),
        "flash": request.session.pop("mz_flash", ""),
        "can_manage": actor.has_permission(AccountPerm.MANAGE_ACCOUNTS),
        "can_roles": actor.has_permission(AccountPerm.MANAGE_ROLES),
        "keys": api_key_list(actor=actor) if actor.has_permission(AccountPerm.MANAGE_ACCOUNTS) else [],
    })


@requires(AccountPerm.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def staff_create_view(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            staff = account_services.staff_create(
                actor=actor,
                username=request.POST.get("username", ""),
                full_name=request.POST.get("full_name", ""),
                division_code=request.POST.get("division_code", ""),
                password=request.POST.get("password", ""),
                phone=request.POST.get("phone", ""),
            )
        except ValidationFailed as exc:
            errors = exc.fields
        except ApplicationError as exc:
            errors = {"division_code": exc.message}
        else:
            request.session["mz_flash"] = f"已创建账号 {staff.username},请安全管理员授予角色"
            return redirect("web:staff-list")
    return render(request, "web/staff/form.html", {
        "errors": errors, "data": request.POST, "divisions": division_list(within=actor.scope_path),
    }, status=400 if errors else 200)


@requires(AccountPerm.MANAGE_ROLES)
@require_http_methods(["GET", "POST"])
def staff_roles_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor: Any = request.user
    staff = staff_get(actor=actor, pk=pk)
    error = ""
    if request.method == "POST":
        try:
            account_services.staff_set_roles(actor=actor, staff=staff, roles=request.POST.getlist("roles"))
        except ApplicationError as exc:
            error = exc.message
        else:
            request.session["mz_flash"] = f"已更新 {staff.username} 的角色"
            return redirect("web:staff-list")
    return render(request, "web/staff/roles.html", {
        "member": staff, "roles": [(r.value, r.label) for r in Role], "error": error,
        "held": request.POST.getlist("roles") if request.method == "POST" else list(staff.role_codes),
    }, status=400 if error else 200)


@requires(AccountPerm.MANAGE_ROLES)
@require_POST
def staff_unlock_view(request: HttpRequest, pk: int) -> HttpResponse:
    staff = staff_get(actor=request.user, pk=pk)  # type: ignore[arg-type]
    account_services.staff_unlock(actor=request.user, staff=staff)  # type: ignore[arg-type]
    request.session["mz_flash"] = f"已解锁 {staff.username}"
    return redirect("web:staff-list")


@requires(AccountPerm.MANAGE_ACCOUNTS)
@require_POST
def staff_disable_view(request: HttpRequest, pk: int) -> HttpResponse:
    staff = staff_get(actor=request.user, pk=pk)  # type: ignore[arg-type]
    try:
        account_services.staff_disable(actor=request.user, staff=staff, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
        request.session["mz_flash"] = f"已停用 {staff.username}"
    except ValidationFailed as exc:
        request.session["mz_flash"] = exc.message
    return redirect("web:staff-list")


@requires(AccountPerm.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def api_key_create_view(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    errors: dict[str, str] = {}
    secret = ""
    if request.method == "POST":
        try:
            _key, secret = account_services.api_key_create(
                actor=actor, name=request.POST.get("name", ""), purpose=request.POST.get("purpose", ""),
                division_code=request.POST.get("division_code", ""),
            )
        except ValidationFailed as exc:
            errors = exc.fields
        except ApplicationError as exc:
            errors = {"division_code": exc.message}
    return render(request, "web/staff/api_key.html", {
        "errors": errors, "secret": secret, "data": request.POST,
        "purposes": [(p.value, p.label) for p in MachinePurpose],
        "divisions": division_list(within=actor.scope_path),
    }, status=400 if errors else 200)
