from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from minzheng.ledger.domain import format_fen
from minzheng.ledger.selectors import ledger_verify, trial_balance


class Command(BaseCommand):
    help = (
        "日终对账:试算平衡、账户余额与分录核对、逐笔重算 HMAC-SM3 并与审计日志比对 "
        "(daily reconciliation, security M-6; exits non-zero on any problem)"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-audit", action="store_true", help="不与审计日志比对 (skip the audit cross-check)")

    def handle(self, *args: Any, **options: Any) -> None:
        tb = trial_balance()
        self.stdout.write(
            f"试算平衡: 借方 {format_fen(tb.debit_total_fen)} 贷方 {format_fen(-tb.credit_total_fen)} "
            f"差额 {format_fen(tb.balances_total_fen)}; 分录合计 {format_fen(tb.postings_total_fen)}"
        )
        failures = 0
        for m in tb.mismatched_accounts:
            failures += 1
            self.stderr.write(f"账户 {m.code}: 余额 {m.balance_fen} 分 ≠ 分录合计 {m.postings_fen} 分")
        for txn_id in tb.unbalanced_txns:
            failures += 1
            self.stderr.write(f"记账凭证 #{txn_id}: 借贷不平衡")
        for code in tb.overdrawn_accounts:
            failures += 1
            self.stderr.write(f"账户 {code}: 透支")
        if tb.balances_total_fen or tb.postings_total_fen:
            failures += 1
        for p in ledger_verify(check_audit=not options["no_audit"]):
            failures += 1
            self.stderr.write(f"记账凭证 #{p.txn_id}: {p.kind} — {p.detail}")
        if failures:
            raise CommandError(f"对账未通过: {failures} 处问题 (ledger check failed)")
        self.stdout.write(self.style.SUCCESS("账本完整,试算平衡 (ledger intact and balanced)"))
