"""Sign-in, second factor, sign-out and password change (security AUTH-1..AUTH-6)."""

from __future__ import annotations

import io
import time
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import auth
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from minzheng.accounts import services as account_services
from minzheng.core.access import login_only, public
from minzheng.core.exceptions import ApplicationError, ValidationFailed

PENDING = "mz_pending_staff"  # password accepted, second factor still owed
AUTH_AT = "mz_auth_at"


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _finish_login(request: HttpRequest, staff: Any, nxt: str) -> HttpResponse:
    auth.login(request, staff, backend="minzheng.accounts.backends.StaffBackend")  # new session key
    request.session[AUTH_AT] = time.time()
    account_services.login_complete(staff=staff)
    return redirect(nxt)


@public
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:home")
    notice = request.session.pop("mz_login_notice", "")
    error = ""
    status = 200
    if request.method == "POST":
        try:
            staff = account_services.login_password(
                username=request.POST.get("username", ""), password=request.POST.get("password", "")
            )
        except ApplicationError as exc:
            error, status = exc.message, exc.status_code
        else:
            if account_services.needs_second_factor(staff):
                request.session.cycle_key()
                request.session[PENDING] = staff.pk
                request.session["mz_pending_next"] = _safe_next(request)
                if account_services.has_confirmed_device(staff):
                    return redirect("web:login-otp")
                return redirect("web:login-otp-setup")
            return _finish_login(request, staff, _safe_next(request))
    return render(
        request, "web/login.html",
        {"error": error, "notice": notice, "next": _safe_next(request), "username": request.POST.get("username", "")},
        status=status,
    )


def _pending_staff(request: HttpRequest) -> Any:
    pk = request.session.get(PENDING)
    if not pk:
        return None
    from minzheng.accounts.backends import StaffBackend

    return StaffBackend().get_user(pk)


@public
@require_http_methods(["GET", "POST"])
def login_otp_view(request: HttpRequest) -> HttpResponse:
    staff = _pending_staff(request)
    if staff is None:
        return redirect("web:login")
    error = ""
    if request.method == "POST":
        try:
            account_services.login_second_factor(staff=staff, token=request.POST.get("token", ""))
        except ApplicationError as exc:
            error = exc.message
            if exc.code == "login_failed":
                request.session.flush()
                return render(request, "web/login.html", {"error": exc.message, "next": "/"}, status=400)
        else:
            nxt = request.session.pop("mz_pending_next", "/")
            del request.session[PENDING]
            return _finish_login(request, staff, nxt)
    return render(request, "web/login_otp.html", {"staff": staff, "error": error}, status=400 if error else 200)


@public
@require_http_methods(["GET", "POST"])
def login_otp_setup_view(request: HttpRequest) -> HttpResponse:
    staff = _pending_staff(request)
    if staff is None or account_services.has_confirmed_device(staff):
        return redirect("web:login")
    error = ""
    if request.method == "POST":
        try:
            account_services.totp_enroll_confirm(staff=staff, token=request.POST.get("token", ""))
        except ValidationFailed as exc:
            error = exc.message
        else:
            return redirect("web:login-otp")
        device = account_services.totp_enroll_current(staff=staff)
    else:
        device = account_services.totp_enroll_start(staff=staff)
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    image.save(buf)
    secret = _base32(device.bin_key)
    return render(
        request, "web/login_otp_setup.html",
        {"staff": staff, "qr_svg": buf.getvalue().decode(), "secret": secret, "error": error},
        status=400 if error else 200,
    )


def _base32(key: bytes) -> str:
    import base64

    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


@login_only
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    account_services.logout_record(staff=request.user)  # type: ignore[arg-type]
    auth.logout(request)  # deletes the server-side session: the old cookie is worthless
    return redirect("web:login")


@login_only
@require_http_methods(["GET", "POST"])
def password_change_view(request: HttpRequest) -> HttpResponse:
    errors: dict[str, str] = {}
    expired = account_services.password_expired(request.user)  # type: ignore[arg-type]
    if request.method == "POST":
        if request.POST.get("new_password") != request.POST.get("new_password2"):
            errors["new_password2"] = "两次输入的新密码不一致"
        else:
            try:
                account_services.password_change(
                    actor=request.user,  # type: ignore[arg-type]
                    old_password=request.POST.get("old_password", ""),
                    new_password=request.POST.get("new_password", ""),
                )
            except ValidationFailed as exc:
                errors = exc.fields
            else:
                auth.update_session_auth_hash(request, request.user)  # type: ignore[arg-type]
                request.session["mz_flash"] = "密码已修改"
                return redirect("web:home")
    return render(request, "web/password_change.html", {"errors": errors, "expired": expired},
                  status=400 if errors else 200)
