"""Permissions of the division tree.

Divisions are public administrative facts (NBS codes and names), not personal data: every
staff role, the 三员 included, and every machine purpose may read them. The permission still
exists so that every route and API operation declares one (deny by default, security AC-1).
"""

from enum import StrEnum

from minzheng.core.access import MachinePurpose, Role


class DivisionPerm(StrEnum):
    VIEW_DIVISION = "divisions.view_division"


GRANTS = {
    DivisionPerm.VIEW_DIVISION: set(Role) | set(MachinePurpose),
}
