"""The side menu's registry: the five service lines (五心为民) and the platform pages.

Apps add entries in ``AppConfig.ready()`` with ``register(Entry(...))``; the web shell renders the
entries each signed-in member holds the permission for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from minzheng.core.access import Actor

GROUPS = ["工作台", "一人一档", "舒心养老", "暖心救助", "群心治理", "爱心慈善", "贴心服务", "审批", "系统"]


@dataclass(frozen=True)
class Entry:
    group: str  # one of GROUPS
    label: str
    url_name: str
    permission: str  # "" = any signed-in member
    order: int = 100


_entries: list[Entry] = []


def register(entry: Entry) -> None:
    if entry not in _entries:
        _entries.append(entry)


def _menu_order(item: Entry | Todo) -> tuple[int, int]:
    return (GROUPS.index(item.group) if item.group in GROUPS else 99, item.order)


def entries() -> list[Entry]:
    return sorted(_entries, key=_menu_order)


# --- the home page's to-do list ------------------------------------------------------------------


@dataclass(frozen=True)
class Todo:
    """One line of the home page's 待办: how many things in the member's area wait for them, and
    the page where they are done. ``count`` is a selector call (area-scoped); ``urgent`` shows a
    non-zero count in red (past a time limit)."""

    group: str  # one of GROUPS
    label: str
    url_name: str
    permission: str
    count: Callable[[Actor, date], int]
    order: int = 100
    urgent: bool = False


_todos: list[Todo] = []


def register_todo(todo: Todo) -> None:
    if todo not in _todos:
        _todos.append(todo)


def todos_for(actor: Actor) -> list[Todo]:
    """The member's to-dos in menu order; those they hold no permission for are left out."""
    return [t for t in sorted(_todos, key=_menu_order) if not t.permission or actor.has_permission(t.permission)]
