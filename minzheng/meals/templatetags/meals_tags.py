from __future__ import annotations

from typing import Any

from django import template

from minzheng.meals.domain import yuan as _yuan

register = template.Library()


@register.filter
def yuan(fen: Any) -> str:
    """Integer fen → "¥12.30" (no float on the way)."""
    try:
        return _yuan(int(fen or 0))
    except (TypeError, ValueError):
        return ""
