"""The person page (一人一档) is a stack of panels; each domain contributes its own.

A domain registers a ``Panel`` in its ``AppConfig.ready()``. The page shows, in ``order``, every
panel whose permission the viewer holds and whose ``context`` returns something (None hides it).
The panel's template receives ``person``, ``actor`` and whatever ``context`` returned as ``panel``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minzheng.core.access import Actor


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    order: int
    permission: str
    context: Callable[[Actor, Any], dict[str, Any] | None]


_panels: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _panels[panel.key] = panel


def panels_for(actor: Actor) -> list[Panel]:
    return sorted((p for p in _panels.values() if actor.has_permission(p.permission)), key=lambda p: p.order)


def register_core_panels() -> None:
    from minzheng.people.permissions import PeoplePerm

    def basics(actor: Actor, person: Any) -> dict[str, Any]:
        return {}

    def household(actor: Actor, person: Any) -> dict[str, Any] | None:
        from minzheng.people.selectors import household_members

        if person.household_id is None:
            return {"members": []}
        return {"members": household_members(actor=actor, household=person.household)}

    register_panel(Panel("basics", "基本信息", "people/panels/basics.html", 10, PeoplePerm.VIEW_PERSON, basics))
    register_panel(Panel("household", "家庭成员", "people/panels/household.html", 20, PeoplePerm.VIEW_PERSON, household))
