from enum import StrEnum

from minzheng.core.access import Role


class CorePerm(StrEnum):
    VIEW_AUDIT = "core.view_audit"


GRANTS = {CorePerm.VIEW_AUDIT: {Role.AUDITOR}}
