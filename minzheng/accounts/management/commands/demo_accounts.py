from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from minzheng.accounts.selectors import staff_find
from minzheng.accounts.services import staff_create
from minzheng.core.access import Role

DEMO_PASSWORD = "Yuhang#Demo-2024"  # noqa: S105 - printed for the demo; never used in production
DEMO_ACCOUNTS = [
    ("qu_admin", "区级管理员(演示)", "330110000000", Role.DISTRICT_ADMIN),
    ("wuchang_staff", "五常街道工作人员(演示)", "330110005000", Role.TOWNSHIP_STAFF),
    ("gujiaqiao_worker", "顾家桥社区工作人员(演示)", "330110005001", Role.COMMUNITY_WORKER),
    ("caseworker", "社工走访员(演示)", "330110005001", Role.CASEWORKER),
    ("canteen_op", "助餐点操作员(演示)", "330110005001", Role.CANTEEN_OPERATOR),
    ("monitor_op", "监护中心值班员(演示)", "330110000000", Role.MONITORING_OPERATOR),
    ("auditor", "审计管理员(演示)", "330110000000", Role.AUDITOR),
    ("secadmin", "安全管理员(演示)", "330110000000", Role.SECURITY_ADMIN),
    ("sysadmin", "系统管理员(演示)", "330110000000", Role.SYSTEM_ADMIN),
]


class Command(BaseCommand):
    help = "创建每个角色一个演示账号并打印 (demo accounts, one per role)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        for username, full_name, division, role in DEMO_ACCOUNTS:
            if staff_find(username=username) is None:
                staff_create(actor=None, username=username, full_name=full_name, division_code=division,
                             password=DEMO_PASSWORD, roles=[role])
        if options["quiet"]:
            return
        self.stdout.write("\n演示账号 (demo accounts) — 密码均为 / password for all: " + DEMO_PASSWORD)
        for username, full_name, _division, role in DEMO_ACCOUNTS:
            self.stdout.write(f"  {username:<18} {role.label}  {full_name}")
        self.stdout.write("  系统/安全/审计管理员首次登录时需用身份验证器应用绑定动态口令 (TOTP).\n")
