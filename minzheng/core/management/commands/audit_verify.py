from typing import Any

from django.core.management.base import BaseCommand, CommandError

from minzheng.core.selectors import audit_verify


class Command(BaseCommand):
    help = "重新计算审计日志的 HMAC-SM3 链,报告被篡改、删除或插入的记录 (recompute the audit chain)"

    def handle(self, *args: Any, **options: Any) -> None:
        problems = audit_verify()
        if not problems:
            self.stdout.write(self.style.SUCCESS("审计链完整 (audit chain intact)"))
            return
        for p in problems:
            self.stderr.write(f"审计记录 #{p.event_id}: {p.kind} — {p.detail}")
        raise CommandError(f"审计链校验失败: {len(problems)} 处问题 (audit chain broken)")
