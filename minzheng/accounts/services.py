"""Writes of the accounts app: sign-in (lockout, throttle, second factor), staff, roles, keys.

Every function audits what it does (security AU-1). Refusals that must leave a trace (a failed
login, a lockout) commit their audit row before raising, so the trace survives the refusal.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from minzheng.accounts import domain
from minzheng.accounts.models import ApiKey, LoginFailure, Staff, StaffRole
from minzheng.accounts.permissions import AccountPerm
from minzheng.accounts.selectors import api_key_forget, ip_is_throttled, recent_failures, staff_find
from minzheng.core import context, crypto, identifiers
from minzheng.core.access import Actor, MachinePurpose, Role
from minzheng.core.exceptions import ApplicationError, PermissionDenied, Throttled, ValidationFailed
from minzheng.core.policy import policy
from minzheng.core.services import audit_record
from minzheng.divisions.selectors import division_get

GENERIC_LOGIN_MESSAGE = "用户名或密码错误,或账号已被临时锁定,请稍后再试"
USERNAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{2,63}$")
RESERVED_USERNAMES = {"admin", "root", "test", "administrator", "guest", "user", "system"}
_common_passwords: frozenset[str] | None = None


class LoginRefused(ApplicationError):
    status_code = 400
    code = "login_failed"

    def __init__(self) -> None:
        super().__init__(GENERIC_LOGIN_MESSAGE)


def _common() -> frozenset[str]:
    global _common_passwords
    if _common_passwords is None:
        _common_passwords = frozenset(CommonPasswordValidator().passwords)
    return _common_passwords


def _require(actor: Actor | None, perm: str) -> None:
    if actor is not None and not actor.has_permission(perm):
        raise PermissionDenied()


# --- Sign-in ---------------------------------------------------------------------------------


def login_password(*, username: str, password: str) -> Staff:
    """Check a username and password. Raises LoginRefused (always the same message) or Throttled."""
    ip = context.current().ip
    name = (username or "").strip().lower()[:64]
    if ip_is_throttled(ip=ip):
        audit_record(actor=None, username=name, event_type="login.throttled", result="denied")
        raise Throttled("登录尝试过于频繁,请10分钟后再试", code="login_throttled")
    staff = staff_find(username=name)
    now = timezone.now()
    if staff is not None and staff.locked_until and staff.locked_until > now:
        with transaction.atomic():
            LoginFailure.objects.create(username=name, ip=ip)
            audit_record(actor=None, username=name, event_type="login.failure", result="denied", reason="账号锁定中")
        raise LoginRefused()
    if staff is None:
        Staff().set_password(password)  # same work as a real check: no timing oracle on usernames
        ok = False
    else:
        ok = staff.is_active and staff.check_password(password)
    if not ok:
        _record_failure(staff=staff, username=name, reason="密码错误" if staff else "账号不存在")
        raise LoginRefused()
    return staff  # type: ignore[return-value]


def _record_failure(*, staff: Staff | None, username: str, reason: str) -> None:
    cfg = policy()
    ip = context.current().ip
    # What was typed may be a phone or ID number by mistake: keep it only if it can be a username.
    kept = username if USERNAME_RE.match(username) else ""
    with transaction.atomic():
        LoginFailure.objects.create(username=kept, ip=ip)
        audit_record(actor=None, username=kept, event_type="login.failure", result="failure", reason=reason)
        if staff is None:
            return
        since = timezone.now() - cfg.lockout_window
        if recent_failures(username=username, since=since) >= cfg.lockout_failures:
            duration = cfg.admin_lockout_duration if staff.is_admin_role else cfg.lockout_duration
            staff.locked_until = timezone.now() + duration
            staff.save(update_fields=["locked_until"])
            audit_record(
                actor=None, username=username, event_type="login.lockout", result="denied",
                object_type="staff", object_id=staff.pk, extra={"minutes": int(duration.total_seconds() // 60)},
            )


def needs_second_factor(staff: Staff) -> bool:
    return staff.is_admin_role


def has_confirmed_device(staff: Staff) -> bool:
    return TOTPDevice.objects.filter(user=staff, confirmed=True).exists()


def login_second_factor(*, staff: Staff, token: str) -> TOTPDevice:
    """Verify a TOTP code for a half-signed-in admin. A wrong code counts towards the lockout."""
    token = (token or "").strip()
    if staff.locked_until and staff.locked_until > timezone.now():
        raise LoginRefused()
    for device in TOTPDevice.objects.filter(user=staff, confirmed=True):
        if token.isdigit() and device.verify_token(token):
            audit_record(actor=staff, event_type="login.second_factor", object_type="staff", object_id=staff.pk)
            return device
    _record_failure(staff=staff, username=staff.username, reason="动态口令错误")
    raise ValidationFailed({"token": "动态口令错误或已过期"}, code="bad_otp")


def totp_enroll_start(*, staff: Staff) -> TOTPDevice:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=staff, confirmed=False).delete()
        return TOTPDevice.objects.create(user=staff, name="TOTP", confirmed=False)


def totp_enroll_confirm(*, staff: Staff, token: str) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=staff, confirmed=False).order_by("-id").first()
    if device is None:
        raise ValidationFailed({"token": "请重新开始绑定"}, code="otp_enroll_missing")
    if not ((token or "").strip().isdigit() and device.verify_token(token.strip())):
        raise ValidationFailed({"token": "动态口令错误,请核对手机时间后重试"}, code="bad_otp")
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=staff, event_type="otp.enrol", object_type="staff", object_id=staff.pk)
    return device


def login_complete(*, staff: Staff) -> None:
    """The sign-in succeeded: reset the failure counter and audit it."""
    with transaction.atomic():
        LoginFailure.objects.filter(username=staff.username).delete()
        if staff.locked_until:
            staff.locked_until = None
            staff.save(update_fields=["locked_until"])
        audit_record(actor=staff, event_type="login.success", object_type="staff", object_id=staff.pk)


def logout_record(*, staff: Staff, reason: str = "") -> None:
    audit_record(actor=staff, event_type="logout", object_type="staff", object_id=staff.pk, reason=reason)


# --- Staff -----------------------------------------------------------------------------------


def _seal_phone(username: str, phone: str) -> tuple[bytes | None, str]:
    if not phone:
        return None, ""
    try:
        norm = identifiers.normalise_phone(phone)
    except identifiers.IdentifierError as exc:
        raise ValidationFailed({"phone": str(exc)}, code="bad_phone") from None
    return crypto.seal(norm, f"staff|phone|{username}"), identifiers.mask_phone(norm)


def staff_phone(staff: Staff) -> str:
    return crypto.unseal(bytes(staff.phone_sealed), f"staff|phone|{staff.username}") if staff.phone_sealed else ""


def _check_password(password: str, *, username: str, phone: str = "", id_number: str = "") -> None:
    problems = domain.password_problems(
        password, username=username, phone=phone, id_number=id_number, common=_common()
    )
    if problems:
        raise ValidationFailed({"password": ";".join(problems)}, code="weak_password")


def staff_create(
    *,
    actor: Actor | None,
    username: str,
    full_name: str,
    division_code: str,
    password: str,
    phone: str = "",
    roles: Iterable[str] = (),
) -> Staff:
    """Create an account (系统管理员). Roles at creation only from the command line (actor None);
    afterwards roles are the 安全管理员's to change (三员分立)."""
    _require(actor, AccountPerm.MANAGE_ACCOUNTS)
    roles = [str(r) for r in roles]
    if roles and actor is not None:
        raise PermissionDenied("角色须由安全管理员授予")
    name = (username or "").strip().lower()
    errors: dict[str, str] = {}
    if not USERNAME_RE.match(name):
        errors["username"] = "用户名须以字母开头,3–64位小写字母、数字或 _ . -"
    elif name in RESERVED_USERNAMES:
        errors["username"] = "不能使用通用或共享账号名"
    elif Staff.objects.filter(username=name).exists():
        errors["username"] = "用户名已存在"
    if not (full_name or "").strip():
        errors["full_name"] = "请填写姓名"
    unknown = [r for r in roles if r not in set(Role)]
    if unknown:
        errors["roles"] = f"未知角色: {'、'.join(unknown)}"
    elif problems := domain.role_problems(roles):
        errors["roles"] = problems[0]
    if errors:
        raise ValidationFailed(errors, code="bad_staff")
    division = division_get(code=division_code)
    sealed, masked = _seal_phone(name, phone)
    # The policy compares the number as stored, not as typed ("+86 138 …" hides nothing)
    _check_password(password, username=name, phone=identifiers.normalise_phone(phone) if phone else "")
    with transaction.atomic():
        staff = Staff(
            username=name, full_name=full_name.strip(), division=division,
            phone_sealed=sealed, phone_masked=masked, password_changed_at=timezone.now(),
        )
        staff.set_password(password)
        staff.save()
        for role in roles:
            StaffRole.objects.create(staff=staff, role=role, granted_by=None)
        audit_record(
            actor=actor, event_type="staff.create", object_type="staff", object_id=staff.pk,
            extra={"username": name, "division": division.code, "roles": sorted(roles)},
        )
    return staff


def staff_set_roles(*, actor: Actor | None, staff: Staff, roles: Iterable[str]) -> Staff:
    """Replace a member's roles (安全管理员). Nobody changes their own roles (AC-3).

    Every refused attempt leaves a "denied" audit row (security A6: a 系统管理员 granting itself
    the 安全管理员 role must be on record, not just refused)."""
    if actor is not None and not actor.has_permission(AccountPerm.MANAGE_ROLES):
        audit_record(actor=actor, event_type="staff.roles_change", result="denied", object_type="staff",
                     object_id=staff.pk, reason="无角色管理权限")
        raise PermissionDenied()
    new = sorted({str(r) for r in roles})
    if actor is not None and actor.pk == staff.pk:
        audit_record(actor=actor, event_type="staff.roles_change", result="denied", object_type="staff",
                     object_id=staff.pk, reason="不能修改自己的角色")
        raise PermissionDenied("不能修改自己的角色")
    unknown = [r for r in new if r not in set(Role)]
    if unknown:
        raise ValidationFailed({"roles": f"未知角色: {'、'.join(unknown)}"}, code="bad_role")
    if problems := domain.role_problems(new):
        raise ValidationFailed({"roles": problems[0]}, code="roles_exclusive")
    with transaction.atomic():
        before = sorted(StaffRole.objects.filter(staff=staff).values_list("role", flat=True))
        StaffRole.objects.filter(staff=staff).exclude(role__in=new).delete()
        for role in set(new) - set(before):
            StaffRole.objects.create(staff=staff, role=role, granted_by=actor if isinstance(actor, Staff) else None)
        audit_record(actor=actor, event_type="staff.roles_change", object_type="staff", object_id=staff.pk,
                     extra={"before": before, "after": new})
        _drop_sessions(staff)  # new roles take effect at the next sign-in
    staff.__dict__.pop("role_codes", None)
    staff.__dict__.pop("permissions", None)
    return staff


def _drop_sessions(staff: Staff) -> int:
    dropped = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(staff.pk):
            session.delete()
            dropped += 1
    return dropped


def staff_disable(*, actor: Actor | None, staff: Staff, reason: str) -> Staff:
    """Disable an account and end all its sessions in the same transaction (AC-6)."""
    _require(actor, AccountPerm.MANAGE_ACCOUNTS)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": "请填写停用原因"}, code="reason_required")
    with transaction.atomic():
        staff.is_active = False
        staff.disabled_reason = reason.strip()[:200]
        staff.save(update_fields=["is_active", "disabled_reason"])
        dropped = _drop_sessions(staff)
        audit_record(actor=actor, event_type="staff.disable", object_type="staff", object_id=staff.pk,
                     reason=staff.disabled_reason, extra={"sessions_ended": dropped})
    return staff


def staff_disable_dormant(*, days: int = 90) -> int:
    """Disable accounts unused for ``days`` (AC-6); run daily."""
    cutoff = timezone.now() - timedelta(days=days)
    n = 0
    # An account never signed in to counts from its creation (AC-6: no login for 90 days).
    unused = Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    for staff in Staff.objects.filter(unused, is_active=True):
        staff_disable(actor=None, staff=staff, reason=f"{days}天未登录,自动停用")
        n += 1
    return n


def staff_unlock(*, actor: Actor | None, staff: Staff) -> Staff:
    _require(actor, AccountPerm.MANAGE_ROLES)
    with transaction.atomic():
        staff.locked_until = None
        staff.save(update_fields=["locked_until"])
        LoginFailure.objects.filter(username=staff.username).delete()
        audit_record(actor=actor, event_type="staff.unlock", object_type="staff", object_id=staff.pk)
    return staff


def password_change(*, actor: Staff, old_password: str, new_password: str) -> None:
    if not actor.check_password(old_password):
        audit_record(actor=actor, event_type="password.change", result="failure", reason="原密码错误")
        raise ValidationFailed({"old_password": "原密码错误"}, code="bad_password")
    if old_password == new_password:
        raise ValidationFailed({"new_password": "新密码不能与原密码相同"}, code="password_reused")
    try:
        _check_password(new_password, username=actor.username, phone=staff_phone(actor))
    except ValidationFailed as exc:
        raise ValidationFailed({"new_password": exc.fields["password"]}, code=exc.code) from None
    with transaction.atomic():
        actor.set_password(new_password)
        actor.password_changed_at = timezone.now()
        actor.save(update_fields=["password", "password_changed_at"])
        audit_record(actor=actor, event_type="password.change", object_type="staff", object_id=actor.pk)


def password_expired(staff: Staff) -> bool:
    changed = staff.password_changed_at
    return changed is None or timezone.now() - changed > policy().password_max_age


# --- Machine keys ------------------------------------------------------------------------------


def api_key_create(*, actor: Actor | None, name: str, purpose: str, division_code: str) -> tuple[ApiKey, str]:
    """Issue a key; the returned secret is shown once and stored only as an SM3 digest."""
    _require(actor, AccountPerm.MANAGE_ACCOUNTS)
    errors = {}
    if not (name or "").strip():
        errors["name"] = "请填写名称"
    if purpose not in set(MachinePurpose):
        errors["purpose"] = "未知用途"
    if errors:
        raise ValidationFailed(errors, code="bad_api_key")
    division = division_get(code=division_code)
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name.strip()[:100], purpose=purpose, division=division, prefix=prefix,
            secret_digest=crypto.sm3(secret.encode()), created_by=actor if isinstance(actor, Staff) else None,
        )
        audit_record(actor=actor, event_type="apikey.create", object_type="apikey", object_id=key.pk,
                     extra={"prefix": prefix, "purpose": purpose, "division": division.code})
    return key, f"{prefix}.{secret}"


def api_key_revoke(*, actor: Actor | None, key: ApiKey) -> ApiKey:
    _require(actor, AccountPerm.MANAGE_ACCOUNTS)
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(actor=actor, event_type="apikey.revoke", object_type="apikey", object_id=key.pk)
        transaction.on_commit(lambda: api_key_forget(key.prefix))
    api_key_forget(key.prefix)  # at once in this process; other processes within API_KEY_CACHE_SECONDS
    return key


def api_key_touch(*, key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now  # the instance may be the per-process cached one (api_key_for)



def totp_enroll_current(*, staff: Staff) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=staff, confirmed=False).order_by("-id").first()
    return device or totp_enroll_start(staff=staff)
