"""Money and rates as staff read them: integer fen → ``1,234.56``; a ratio → ``98.5%``."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def yuan(fen: Any) -> str:
    try:
        value = int(fen or 0)
    except (TypeError, ValueError):
        return "—"
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100:,}.{value % 100:02d}"


@register.filter
def pct(ratio: Any) -> str:
    if ratio is None:
        return "—"
    return f"{float(ratio) * 100:.1f}%"


@register.filter
def label_of(value: Any, choices: Any) -> str:
    return dict(choices).get(value, value)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None
