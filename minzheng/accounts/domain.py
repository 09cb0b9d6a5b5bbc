"""Pure account rules: the password policy (security AUTH-2) and role compatibility (AC-3)."""

from __future__ import annotations

import re
from collections.abc import Container, Iterable

from minzheng.core.access import ADMIN_ROLES, Role

MIN_LENGTH = 12


def password_problems(
    password: str,
    *,
    username: str = "",
    phone: str = "",
    id_number: str = "",
    common: Container[str] = (),
) -> list[str]:
    """Every reason ``password`` is refused, in Chinese; empty when it is acceptable."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"密码至少 {MIN_LENGTH} 位")
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    if classes < 3:
        problems.append("密码须包含大写字母、小写字母、数字、符号中的至少三类")
    lowered = password.lower()
    if lowered in common or lowered.rstrip("!@#$%^&*.0123456789") in common:
        problems.append("密码过于常见")
    for label, value in (("用户名", username), ("手机号", phone), ("身份证号", id_number)):
        value = (value or "").strip().lower()
        if len(value) >= 4 and value in lowered:
            problems.append(f"密码不能包含{label}")
    return problems


def role_problems(roles: Iterable[str]) -> list[str]:
    """三员分立: an admin role excludes every other role."""
    held = {Role(r) for r in roles}
    admin = held & ADMIN_ROLES
    if admin and len(held) > 1:
        names = "、".join(Role(r).label for r in sorted(admin))
        return [f"{names}与其他角色互斥(三员分立)"]
    return []
