from enum import StrEnum

from minzheng.core.access import Role


class AccountPerm(StrEnum):
    MANAGE_ACCOUNTS = "accounts.manage_accounts"  # 系统管理员: create, disable, API keys
    MANAGE_ROLES = "accounts.manage_roles"  # 安全管理员: roles, unlocks
    VIEW_ACCOUNTS = "accounts.view_accounts"


GRANTS = {
    AccountPerm.MANAGE_ACCOUNTS: {Role.SYSTEM_ADMIN},
    AccountPerm.MANAGE_ROLES: {Role.SECURITY_ADMIN},
    AccountPerm.VIEW_ACCOUNTS: {Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN},
}
