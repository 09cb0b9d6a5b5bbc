from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone

from minzheng.core.access import ADMIN_ROLES, MachinePurpose, Role, permissions_of
from minzheng.core.models import BaseModel


class StaffManager(BaseUserManager["Staff"]):
    def get_by_natural_key(self, username: str | None) -> Staff:
        return self.get(username=(username or "").strip().lower())


class Staff(AbstractBaseUser):
    """A member of staff: bound to one division node, holding one or more roles."""

    username = models.CharField("用户名", max_length=64, unique=True)
    full_name = models.CharField("姓名", max_length=64)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, verbose_name="所属区划")
    phone_sealed = models.BinaryField("手机号(密文)", null=True)
    phone_masked = models.CharField("手机号", max_length=16, blank=True)
    is_active = models.BooleanField("启用", default=True)
    date_joined = models.DateTimeField("创建时间", default=timezone.now)
    password_changed_at = models.DateTimeField("密码修改时间", null=True)
    locked_until = models.DateTimeField("锁定至", null=True, blank=True)
    disabled_reason = models.CharField("停用原因", max_length=200, blank=True)

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS = ["full_name"]
    objects = StaffManager()

    class Meta:
        verbose_name = "工作人员"

    def __str__(self) -> str:
        return f"{self.full_name}({self.username})"

    @cached_property
    def role_codes(self) -> tuple[str, ...]:
        return tuple(sorted(self.roles.values_list("role", flat=True)))

    @property
    def role_labels(self) -> list[str]:
        return [Role(r).label for r in self.role_codes]

    @cached_property
    def permissions(self) -> frozenset[str]:
        return permissions_of(self.role_codes)

    @property
    def scope_path(self) -> str:
        return self.division.path

    is_machine = False

    @property
    def is_admin_role(self) -> bool:
        return bool(set(self.role_codes) & ADMIN_ROLES)

    def has_permission(self, perm: str) -> bool:
        return self.is_active and str(perm) in self.permissions

    # Django's PermWrapper (``perms`` in templates) asks these.
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.has_permission(perm)

    def has_module_perms(self, app_label: str) -> bool:
        return any(p.startswith(app_label + ".") for p in self.permissions)

    @property
    def is_staff(self) -> bool:  # no Django admin site here
        return False

    @property
    def is_superuser(self) -> bool:
        return False


class StaffRole(models.Model):
    staff = models.ForeignKey(Staff, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField("角色", max_length=32, choices=[(r.value, r.label) for r in Role])
    granted_by = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, related_name="+")
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "角色授予"
        constraints = [models.UniqueConstraint(fields=["staff", "role"], name="accounts_staffrole_unique")]


class LoginFailure(models.Model):
    """A failed login, kept for the account lockout and the per-IP throttle (AUTH-4)."""

    username = models.CharField(max_length=64, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)


class ApiKey(BaseModel):
    """A machine credential: canteen terminal, sensor gateway or peer system.

    Only ``prefix`` and an SM3 digest of the secret are stored; the secret is shown once.
    """

    name = models.CharField("名称", max_length=100)
    purpose = models.CharField("用途", max_length=32, choices=[(p.value, p.label) for p in MachinePurpose])
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, verbose_name="所属区划")
    prefix = models.CharField(max_length=16, unique=True)
    secret_digest = models.BinaryField(max_length=32)
    created_by = models.ForeignKey(Staff, on_delete=models.PROTECT, null=True, related_name="+")
    revoked_at = models.DateTimeField("吊销时间", null=True, blank=True)
    last_used_at = models.DateTimeField("最近使用", null=True, blank=True)

    class Meta:
        verbose_name = "接口密钥"

    def __str__(self) -> str:
        return f"{self.name}({self.prefix})"

    # The Actor protocol, so selectors scope a machine like a member of staff.
    is_machine = True

    @property
    def username(self) -> str:
        return f"apikey:{self.prefix}"

    @property
    def role_codes(self) -> tuple[str, ...]:
        return (self.purpose,)

    @property
    def scope_path(self) -> str:
        return self.division.path

    def has_permission(self, perm: str) -> bool:
        return self.revoked_at is None and str(perm) in permissions_of([self.purpose])
