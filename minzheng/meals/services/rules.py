"""Pricing and subsidy rule sets (effective-dated, per region)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.meals import domain
from minzheng.meals.models import PricingRule
from minzheng.meals.permissions import MealsPerm
from minzheng.meals.selectors import config_cache_clear, require


def rule_set_save(*, actor: Actor | None, body: Mapping[str, Any]) -> PricingRule:
    """Store a new version of a region's rule set. A version, once stored, is never changed:
    meals name the version they were priced under."""
    if actor is not None:
        require(actor, MealsPerm.MANAGE_RULES)
    try:
        rs = domain.rule_set_from_dict(body)
    except domain.RuleSetError as exc:
        raise ValidationFailed(exc.fields, code="bad_rule_set") from None
    if PricingRule.objects.filter(region=rs.region, version=rs.version).exists():
        raise Conflict(f"{rs.region} 的规则版本 {rs.version} 已存在, 请使用新版本号", code="rule_version_exists")
    with transaction.atomic():
        row = PricingRule.objects.create(
            region=rs.region, version=rs.version, effective_from=rs.effective_from, effective_to=rs.effective_to,
            status=rs.status, payer_rule=rs.payer_rule, source=rs.source, body=domain.rule_set_to_dict(rs),
            created_by_id=getattr(actor, "pk", None),
        )
        audit_record(actor=actor, event_type="meals.rule_save", object_type="meals.rule", object_id=rs.ref,
                     extra={"effective_from": rs.effective_from.isoformat(), "to_confirm": rs.to_confirm})
    config_cache_clear()
    return row


def rules_install_default(*, actor: Actor | None = None) -> PricingRule | None:
    """Hangzhou's default for Yuhang when no rule set is stored yet."""
    if PricingRule.objects.exists():
        return None
    return rule_set_save(actor=actor, body=domain.rule_set_to_dict(domain.hangzhou_default()))
