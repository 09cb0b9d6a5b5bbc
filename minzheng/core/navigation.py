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


def entries() -> list[Entry]:
    return sorted(_entries, key=lambda e: (GROUPS.index(e.group) if e.group in GROUPS else 99, e.order))


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
    query: str = ""
    order: int = 100
    urgent: bool = False


_todos: list[Todo] = []


def register_todo(todo: Todo) -> None:
    if todo not in _todos:
        _todos.append(todo)


def todos_for(actor: Actor, today: date) -> list[tuple[Todo, int]]:
    """The member's to-dos with their counts, in menu order; those they hold no permission for are left out."""
    out = []
    for todo in sorted(_todos, key=lambda t: (GROUPS.index(t.group) if t.group in GROUPS else 99, t.order)):
        if todo.permission and not actor.has_permission(todo.permission):
            continue
        out.append((todo, todo.count(actor, today)))
    return out
