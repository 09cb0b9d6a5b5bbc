"""Meal points: create and change, slot windows, terminals and operators."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from django.db import transaction

from minzheng.accounts.models import ApiKey, Staff
from minzheng.core.access import Actor, MachinePurpose, Role
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.meals import domain
from minzheng.meals.enums import YUHANG, PointType, SecondMealPolicy, Tender
from minzheng.meals.models import MealPoint, MealSlot, PointOperator, PointTerminal
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import config_cache_clear, require
from minzheng.meals.services import books

FIELDS = ("name", "point_type", "operator_org", "operator_credit_code", "address", "opening_days", "capacity",
          "connected_to_city", "wallet_approved", "licence_no", "licence_expires", "second_meal", "is_active")


def _clean(data: Mapping[str, Any], *, partial: bool) -> tuple[dict[str, Any], dict[str, str]]:
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if not partial or "name" in data:
        name = str(data.get("name") or "").strip()
        if not 2 <= len(name) <= 100:
            errors["name"] = "名称应为2–100个字"
        out["name"] = name
    if not partial or "point_type" in data:
        if data.get("point_type") not in PointType.value_set():
            errors["point_type"] = "请选择助餐点类型"
        out["point_type"] = data.get("point_type")
    for text, limit in (("operator_org", 100), ("operator_credit_code", 18), ("address", 160), ("licence_no", 40)):
        if text in data:
            out[text] = str(data.get(text) or "").strip()[:limit]
    if "opening_days" in data:
        days = data.get("opening_days") or []
        if not isinstance(days, list | tuple) or not days or any(d not in range(1, 8) for d in days):
            errors["opening_days"] = "营业日应为1–7(周一至周日)中的若干天"
        else:
            out["opening_days"] = sorted(set(days))
    if "capacity" in data:
        cap = data.get("capacity")
        if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= 5000:
            errors["capacity"] = "供餐能力应为1–5000"
        out["capacity"] = cap
    for flag in ("connected_to_city", "wallet_approved", "is_active"):
        if flag in data:
            out[flag] = bool(data.get(flag))
    if "licence_expires" in data:
        value = data.get("licence_expires")
        if value and not isinstance(value, date):
            errors["licence_expires"] = "日期格式应为 YYYY-MM-DD"
        out["licence_expires"] = value or None
    if "second_meal" in data:
        value = data.get("second_meal") or ""
        if value and value not in SecondMealPolicy.value_set():
            errors["second_meal"] = "重复就餐处理方式无效"
        out["second_meal"] = value
    return out, errors


def _division(actor: Actor, code: str) -> Division:
    division = Division.objects.filter(code=code).first()
    if division is None or not division.path.startswith(actor.scope_path):
        raise ValidationFailed({"division_code": "区划不存在或不在您的管辖范围内"}, code="bad_division")
    return division


def point_accounts(point: MealPoint) -> list[str]:
    return [books.payable(point.code), books.benefit(YUHANG, point.code),
            *(books.selfpay(point.code, t) for t in Tender)]


def point_create(*, actor: Actor, code: str, division_code: str, data: Mapping[str, Any],
                 windows: Iterable[domain.SlotWindow] = domain.DEFAULT_WINDOWS) -> MealPoint:
    require(actor, MealsPerm.MANAGE_POINTS)
    cleaned, errors = _clean(data, partial=False)
    code = (code or "").strip().upper()
    if not code or len(code) > 16 or not all(c.isalnum() or c == "-" for c in code):
        errors["code"] = "编号应为1–16位字母、数字或 -"
    elif MealPoint.objects.filter(code=code).exists():
        errors["code"] = "编号已存在"
    windows = list(windows)
    errors.update(domain.check_slot_windows(windows))
    if errors:
        raise ValidationFailed(errors, code="bad_point")
    division = _division(actor, division_code)
    with transaction.atomic():
        point = MealPoint.objects.create(code=code, division=division, area_path=division.path, region=YUHANG,
                                         **cleaned)
        MealSlot.objects.bulk_create(MealSlot(point=point, slot=w.slot, starts=w.starts, ends=w.ends,
                                              price_fen=w.price_fen) for w in windows)
        books.ensure(point_accounts(point), division_code=division.code, point_name=point.name,
                     owner=("meal_point", point.code))
        audit_record(actor=actor, event_type="meals.point_create", object_type="meals.point", object_id=point.code,
                     extra={"division": division.code, "type": point.point_type})
    config_cache_clear()
    return point


def point_update(*, actor: Actor, point: MealPoint, data: Mapping[str, Any]) -> MealPoint:
    require(actor, MealsPerm.MANAGE_POINTS)
    if not point.area_path.startswith(actor.scope_path):
        raise NotFound()
    cleaned, errors = _clean(data, partial=True)
    if errors:
        raise ValidationFailed(errors, code="bad_point")
    changes = {k: v for k, v in cleaned.items() if getattr(point, k) != v}
    if not changes:
        return point
    with transaction.atomic():
        MealPoint.objects.filter(pk=point.pk).update(**changes)
        audit_record(actor=actor, event_type="meals.point_update", object_type="meals.point", object_id=point.code,
                     extra={"changes": {k: str(v) for k, v in changes.items()}})
    config_cache_clear()
    point.refresh_from_db()
    return point


def point_set_windows(*, actor: Actor, point: MealPoint, windows: Iterable[domain.SlotWindow]) -> MealPoint:
    require(actor, MealsPerm.MANAGE_POINTS)
    if not point.area_path.startswith(actor.scope_path):
        raise NotFound()
    windows = list(windows)
    errors = domain.check_slot_windows(windows)
    if errors:
        raise ValidationFailed(errors, code="bad_windows")
    with transaction.atomic():
        MealSlot.objects.filter(point=point).delete()
        MealSlot.objects.bulk_create(MealSlot(point=point, slot=w.slot, starts=w.starts, ends=w.ends,
                                              price_fen=w.price_fen) for w in windows)
        audit_record(actor=actor, event_type="meals.point_windows", object_type="meals.point", object_id=point.code,
                     extra={"windows": [f"{w.slot} {w.starts:%H:%M}-{w.ends:%H:%M} {w.price_fen}" for w in windows]})
    config_cache_clear()
    return point


def terminal_bind(*, actor: Actor, point: MealPoint, api_key: ApiKey, label: str = "") -> PointTerminal:
    """Bind a canteen-terminal key to a point (a key serves one point only)."""
    require(actor, MealsPerm.MANAGE_POINTS)
    if not point.area_path.startswith(actor.scope_path):
        raise NotFound()
    if api_key.purpose != MachinePurpose.CANTEEN_TERMINAL or api_key.revoked_at is not None:
        raise ValidationFailed({"api_key": "只能绑定有效的助餐点结算终端密钥"}, code="bad_terminal_key")
    existing = PointTerminal.objects.filter(api_key=api_key).first()
    if existing is not None:
        if existing.point_id == point.pk:
            return existing
        raise Conflict("该终端密钥已绑定其他助餐点", code="terminal_bound_elsewhere")
    with transaction.atomic():
        terminal = PointTerminal.objects.create(point=point, api_key=api_key, label=(label or api_key.name)[:60])
        audit_record(actor=actor, event_type="meals.terminal_bind", object_type="meals.point", object_id=point.code,
                     extra={"key": api_key.prefix})
    config_cache_clear()
    return terminal


def operator_assign(*, actor: Actor, point: MealPoint, staff: Staff) -> PointOperator:
    require(actor, MealsPerm.MANAGE_POINTS)
    if not point.area_path.startswith(actor.scope_path):
        raise NotFound()
    if Role.CANTEEN_OPERATOR not in staff.role_codes:
        raise ValidationFailed({"staff": "该账号没有助餐点操作员角色"}, code="not_an_operator")
    with transaction.atomic():
        op, created = PointOperator.objects.get_or_create(point=point, staff=staff)
        if created:
            audit_record(actor=actor, event_type="meals.operator_assign", object_type="meals.point",
                         object_id=point.code, extra={"staff": staff.username})
    return op
