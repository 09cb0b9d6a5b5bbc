"""The monthly payroll: close the month → freeze a snapshot and compute (rules engine, vectorised)
→ review and approve (seals and amounts re-checked, four eyes) → bank file → ledger postings.

Idempotent and resumable:

* a month has at most one live roll (partial UNIQUE); ``payroll_create`` returns it again;
* ``payroll_freeze`` is one transaction: a crash leaves nothing, a rerun builds the same lines;
* ``payroll_pay`` posts one ledger transaction per township, each in its own database transaction
  together with the township's ``PayrollPosting`` row (which is what makes its lines paid), under the
  idempotency key ``assistance:payroll:<roll>:<township>``; a crash between townships leaves the
  finished ones paid and the rerun continues with the rest;
* every line has ``payment_key`` = (roll, beneficiary, month), UNIQUE; and at most one live line
  exists per enrolment-month (or grant) across all rolls (partial UNIQUE): no duplicate payment, ever.

Each line is sealed with HMAC-SM3 over its key, its enrolment, grant and person ids, its amounts and
the SM3 digest of its snapshot (kept as canonical JSON text), so that a seal is checked from the line
alone; approval re-derives every digest, seal and amount from the snapshot through the same rules;
payment re-checks every seal over what it pays.
"""

from __future__ import annotations

import gc
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    HOUSEHOLD_PROGRAMS,
    PAYABLE_ENROLMENT,
    UNFINISHED_ROLL,
    AdjustmentKind,
    AdjustmentStatus,
    GrantStatus,
    LineKind,
    LineStatus,
    PeriodStatus,
    Program,
    RollStatus,
)
from minzheng.assistance.models import (
    Adjustment,
    Enrolment,
    EnrolmentMember,
    Grant,
    PayrollLine,
    PayrollPeriod,
    PayrollPosting,
    PayrollRoll,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.core import crypto
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.ledger import selectors as ledger_selectors
from minzheng.ledger import services as ledger
from minzheng.ledger.retry import retry_on_conflict
from minzheng.people.enums import PersonStatus
from minzheng.rules.engine import ymd

FUND = "assistance:fund:bank"  # 社会救助资金专户 (asset; may not overdraw)
APPROPRIATION = "assistance:fund:appropriation"  # 财政拨款收入 (income)
DISTRICT_CODE = "330110000000"
LEDGER_KIND = "assistance.payroll"
# Missed months are looked at again in the next roll (补发), at most this far back; older gaps are
# settled by an explicit adjustment. A month the rules find ineligible is dropped, not held.
ARREARS_LOOKBACK_MONTHS = 12


def expense_account(program: str, township: str) -> str:
    return f"assistance:{program}:expense:{township or DISTRICT_CODE}"


def _checkpoint(stage: str, index: int) -> None:
    """A seam between units of work (tests raise here to simulate a crash mid-run)."""


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a roll's lines are built, checked or written out: they
    are some 500,000 acyclic objects, and its passes over them cost as much as the work itself
    (reference counting frees them all the same; the collector resumes afterwards)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# ------------------------------------------------------------------------------------ accounts


def ensure_accounts(codes: Iterable[str]) -> None:
    """Open the fund and expense accounts a posting needs (``account_open`` is idempotent)."""
    wanted = {FUND, APPROPRIATION, *codes}
    have = set(ledger_selectors.account_list(actor=None, code_prefix="assistance:").values_list("code", flat=True))
    for code in sorted(wanted - have):
        if code == FUND:
            ledger.account_open(actor=None, code=code, name="社会救助资金专户", kind="asset", division_code=DISTRICT_CODE)
        elif code == APPROPRIATION:
            ledger.account_open(actor=None, code=code, name="社会救助财政拨款", kind="income",
                                division_code=DISTRICT_CODE, allow_negative=True)
        else:
            _, program, _, township = code.split(":")
            ledger.account_open(actor=None, code=code, name=f"{Program(program).label}支出", kind="expense",
                                division_code=township, allow_negative=True)


def fund_allocate(*, actor: Actor | None, amount_fen: int, key: str, memo: str = "财政拨付社会救助资金") -> int:
    """Money into the fund (财政拨款 → 专户): what the payroll and 先行救助 pay out of."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    amount = domain.check_fen(amount_fen, "amount_fen", maximum=10**13)
    if amount <= 0:
        raise ValidationFailed({"amount_fen": "金额必须大于0"}, code="bad_amount")
    ensure_accounts(())
    txn = ledger.txn_post(actor=actor, key=f"assistance:fund:{key}", kind="assistance.fund",
                          lines=[(FUND, amount), (APPROPRIATION, -amount)], memo=memo)
    return int(txn.pk)


def pay_grant_now(*, actor: Actor | None, grant: Grant) -> Grant:
    """先行救助: one grant paid at once, in the caller's transaction, under the grant's own key."""
    account = expense_account(grant.program, grant.township_code)
    ensure_accounts([account])
    txn = ledger.txn_post(
        actor=actor, key=f"assistance:grant:{grant.uid}", kind="assistance.grant",
        lines=[(account, grant.amount_fen), (FUND, -grant.amount_fen)], memo=f"{Program(grant.program).label}先行救助",
        metadata={"grant": str(grant.uid), "emergency": True},
    )
    grant.status, grant.paid_at, grant.ledger_txn_id = GrantStatus.PAID, timezone.now(), txn.pk
    grant.save(update_fields=["status", "paid_at", "ledger_txn_id", "updated_at"])
    audit_record(actor=actor, event_type="assistance.grant.pay", object_type="assistance.grant", object_id=grant.uid,
                 extra={"amount_fen": grant.amount_fen, "txn": txn.pk, "emergency": True})
    return grant


# -------------------------------------------------------------------------------- the month


def period_close(*, actor: Actor | None, month: Any) -> PayrollPeriod:
    """Close a month for changes: the 高龄津贴 auto-enrolment and the 渐退 expiry run first, so the
    roll sees them. A month in the future cannot be closed. Closing twice is a no-op."""
    from minzheng.assistance.services.enrolment import grace_expire, longevity_enrol

    c.require(actor, AssistancePerm.RUN_PAYROLL)
    first = domain.parse_month(month)
    if first > domain.month_start(c.today()):
        raise ValidationFailed({"month": "不能关闭尚未到来的月份"}, code="future_month")
    with transaction.atomic():
        period, _ = PayrollPeriod.objects.select_for_update().get_or_create(month=first)
        if period.status == PeriodStatus.CLOSED:
            return period
        enrolled = longevity_enrol(actor=None, on=first)
        expired = grace_expire(actor=None, on=first)
        actor_id, actor_name = c.who(actor)
        period.status, period.closed_at = PeriodStatus.CLOSED, timezone.now()
        period.closed_by_id, period.closed_by_name = actor_id, actor_name
        period.save()
        audit_record(actor=actor, event_type="assistance.period.close", object_type="assistance.period",
                     object_id=domain.month_label(first), extra={"longevity_enrolled": enrolled, "grace_expired": expired})
    return period


def payroll_create(*, actor: Actor | None, month: Any) -> PayrollRoll:
    """Open the month's roll, or return the one already open (a rerun gets the same roll)."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    first = domain.parse_month(month)
    with transaction.atomic():
        existing = PayrollRoll.objects.filter(month=first).exclude(status=RollStatus.CANCELLED).first()
        if existing is not None:
            return existing
        period = PayrollPeriod.objects.filter(month=first).first()
        if period is None or period.status != PeriodStatus.CLOSED:
            raise Conflict(f"{domain.month_label(first)} 尚未关账,不能生成发放名册", code="period_not_closed",
                           extra={"month": domain.month_label(first)})
        earlier = PayrollRoll.objects.filter(month__lt=first, status__in=sorted(UNFINISHED_ROLL)).order_by("month").first()
        if earlier is not None:
            raise Conflict(f"{domain.month_label(earlier.month)} 的发放名册尚未办结", code="previous_roll_unfinished",
                           extra={"month": domain.month_label(earlier.month)})
        actor_id, actor_name = c.who(actor)
        roll = PayrollRoll.objects.create(month=first, created_by_id=actor_id, created_by_name=actor_name)
        audit_record(actor=actor, event_type="assistance.payroll.create", object_type="assistance.roll",
                     object_id=roll.uid, extra={"month": domain.month_label(first)})
    return roll


def _lock_roll(roll: PayrollRoll | int) -> PayrollRoll:
    pk = roll.pk if isinstance(roll, PayrollRoll) else roll
    found = PayrollRoll.objects.select_for_update().filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


# --------------------------------------------------------------------------------- snapshot


@dataclass(slots=True)
class Pending:
    """A line being built: who, for which month, its frozen snapshot."""

    kind: str
    program: str
    for_month: date
    person_id: int
    beneficiary_hex: str  # the enrolment's or grant's uid, as the payment key shows it
    area_path: str
    township: str
    snapshot: dict[str, Any]
    enrolment_id: int | None = None
    grant_id: int | None = None
    person_active: bool = True
    adjustments: list[tuple[int, int]] = field(default_factory=list)  # (adjustment id, fen)


ENROLMENT_COLUMNS = (
    "id", "uid", "program", "person_id", "person__birth_date", "person__hukou_in_zhejiang",
    "person__status", "area_path", "township_code", "money_assets_fen", "vehicles", "vehicle_value_fen", "housing_ok",
    "business_capital_fen", "disabled", "able_to_work", "has_income_source", "has_capable_supporter", "adl_failed",
    "child_category", "bank_ref", "covered_through", "start_month", "end_month",
)


def _household_members(month: date) -> dict[int, list[list[Any]]]:
    members: dict[int, list[list[Any]]] = defaultdict(list)
    rows = EnrolmentMember.objects.filter(
        active=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT), enrolment__program__in=sorted(HOUSEHOLD_PROGRAMS),
    ).order_by("enrolment_id", "id").values_list(
        "enrolment_id", "relation", "person__birth_date", "person__hukou_in_zhejiang", "person__status", "income_fen",
        "job_income_fen", "job_disregard_until", "student", "cannot_live_independently", "co_resident", "away",
    )
    for (eid, rel, birth, hukou, status, income, job, until, student, cli, co_res, away) in rows:
        if status != PersonStatus.ACTIVE:
            continue  # died or moved out: no longer a member of the household
        disregard = until is not None and until >= month
        flags = domain.member_flags(student=student, cannot_live_independently=cli, co_resident=co_res, hukou=hukou,
                                    disregard_job=disregard)
        members[eid].append([rel, ymd(birth), income, flags, away, job])
    return members


def _family_status() -> dict[int, int]:
    """person id → 1 (低保 family) or 2 (低边 family), for children's allowances."""
    out: dict[int, int] = {}
    for person_id, program in EnrolmentMember.objects.filter(
        active=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT), enrolment__program__in=sorted(HOUSEHOLD_PROGRAMS),
    ).values_list("person_id", "enrolment__program"):
        code = 1 if program == Program.DIBAO else 2
        out[person_id] = min(out.get(person_id, code), code)
    return out


(E_ID, E_UID, E_PROGRAM, E_PERSON, E_BIRTH, E_HUKOU, E_STATUS, E_AREA, E_TOWN, E_ASSETS, E_VEHICLES,
 E_VEHICLE_VALUE, E_HOUSING, E_CAPITAL, E_DISABLED, E_ABLE, E_INCOME_SOURCE, E_SUPPORTER, E_ADL, E_CHILD, E_BANK,
 E_COVERED, E_START, E_END) = range(len(ENROLMENT_COLUMNS))


def _snapshot(row: Sequence[Any], members: dict[int, list[list[Any]]], family: dict[int, int]) -> dict[str, Any]:
    """The frozen inputs of one enrolment, as the rules need them (rows as ``ENROLMENT_COLUMNS``)."""
    program = row[E_PROGRAM]
    if program in HOUSEHOLD_PROGRAMS:
        snap: dict[str, Any] = {
            "p": program, "m": members.get(row[E_ID], []),
            "a": [row[E_ASSETS], row[E_VEHICLES], row[E_VEHICLE_VALUE], int(row[E_HOUSING]), row[E_CAPITAL]],
        }
    elif program == Program.TEKUN:
        snap = {"p": program, "b": ymd(row[E_BIRTH]),
                "f": [int(row[E_DISABLED]), int(row[E_ABLE]), int(row[E_INCOME_SOURCE]), int(row[E_SUPPORTER])],
                "adl": row[E_ADL]}
    elif program == Program.CHILDREN:
        snap = {"p": program, "b": ymd(row[E_BIRTH]), "c": int(row[E_CHILD] or 0), "fam": family.get(row[E_PERSON], 0)}
    else:
        snap = {"p": program, "b": ymd(row[E_BIRTH]), "h": int(bool(row[E_HUKOU]))}  # = domain.longevity_snapshot
    snap["bank"] = row[E_BANK]
    return snap


def _collect(month: date) -> list[Pending]:
    """Everything the month's roll pays: regular lines, arrears for missed months, one-off grants."""
    prev = domain.add_months(month, -1)
    base = Enrolment.objects.filter(status__in=sorted(PAYABLE_ENROLMENT))
    current = base.filter(start_month__lte=month).filter(Q(end_month__isnull=True) | Q(end_month__gte=month))
    rows = list(current.values_list(*ENROLMENT_COLUMNS))  # in no order: _build puts the lines in theirs
    # Behind: no live line for last month, and not settled up to it before go-live (covered_through).
    behind = list(
        base.filter(start_month__lt=month)
        .filter(Q(covered_through__isnull=True) | Q(covered_through__lt=prev))
        .exclude(pk__in=PayrollLine.objects.filter(for_month=prev, status=LineStatus.PENDING, enrolment__isnull=False)
                 .values("enrolment_id"))
        .values_list(*ENROLMENT_COLUMNS)
    )
    members = _household_members(month)
    family = _family_status()
    pending: list[Pending] = [_pending(row, LineKind.REGULAR, month, _snapshot(row, members, family)) for row in rows]
    if behind:
        paid: dict[int, set[date]] = defaultdict(set)
        for eid, m in PayrollLine.objects.filter(
            enrolment_id__in=[r[E_ID] for r in behind], status=LineStatus.PENDING
        ).values_list("enrolment_id", "for_month"):
            paid[eid].add(m)
        horizon = domain.add_months(month, -ARREARS_LOOKBACK_MONTHS)
        for row in behind:
            last = min(prev, row[E_END] or prev)
            covered = row[E_COVERED]
            first = max(row[E_START], horizon, domain.add_months(covered, 1) if covered else row[E_START])
            for m in domain.months_between(first, last):
                if m not in paid[row[E_ID]]:
                    pending.append(_pending(row, LineKind.ARREARS, m, _snapshot(row, members, family)))
    for g in Grant.objects.filter(status=GrantStatus.APPROVED, emergency=False, pay_month__lte=month) \
            .values_list("id", "uid", "program", "person_id", "person__status", "area_path",
                         "township_code", "amount_fen", "persons", "bank_ref"):
        gid, guid, program, person_id, person_status, area, town, amount, persons, bank = g
        pending.append(Pending(
            kind=LineKind.ONE_OFF, program=program, for_month=month, person_id=person_id, beneficiary_hex=guid.hex,
            area_path=area, township=town, grant_id=gid,
            person_active=person_status == PersonStatus.ACTIVE,
            snapshot={"p": program, "amt": amount, "n": persons, "bank": bank},
        ))
    regular = {p.enrolment_id: p for p in pending if p.kind == LineKind.REGULAR}
    for adj_id, eid, fen in Adjustment.objects.filter(
        status=AdjustmentStatus.OPEN, applied_in__isnull=True, enrolment__status__in=sorted(PAYABLE_ENROLMENT),
    ).order_by("id").values_list("id", "enrolment_id", "amount_fen"):
        if eid in regular:
            regular[eid].adjustments.append((adj_id, fen))
    return pending


def _pending(row: Sequence[Any], kind: str, month: date, snapshot: dict[str, Any]) -> Pending:
    return Pending(
        kind=kind, program=row[E_PROGRAM], for_month=month, person_id=row[E_PERSON], beneficiary_hex=row[E_UID].hex,
        area_path=row[E_AREA], township=row[E_TOWN], snapshot=snapshot,
        enrolment_id=row[E_ID], person_active=row[E_STATUS] == PersonStatus.ACTIVE,
    )


LINE_COLUMNS = (
    "roll_id", "payment_key", "enrolment_id", "grant_id", "person_id", "program", "kind", "for_month", "area_path",
    "township_code", "persons", "eligible", "amount_fen", "adjustment_fen", "total_fen", "snapshot", "snapshot_digest",
    "seal", "status", "hold_reason",
)


@dataclass
class Built:
    seals: list[bytes]
    adjustments: dict[str, list[int]]  # payment key → adjustment ids applied
    carry: dict[int, int]  # enrolment id → recovery still owed after this roll
    line_count: int = 0
    held: int = 0
    persons: int = 0
    total: int = 0


def _build(roll: PayrollRoll, pending: list[Pending], write: Callable[[tuple[Any, ...]], None]) -> Built:
    """Compute, seal and ``write`` each line (in ``LINE_COLUMNS`` order), in roll order."""
    by_month: dict[date, list[int]] = defaultdict(list)
    for i, p in enumerate(pending):
        by_month[p.for_month].append(i)
    eligible = [False] * len(pending)
    amounts = [0] * len(pending)
    persons = [1] * len(pending)
    for month, idx in by_month.items():
        result = domain.compute([pending[i].snapshot for i in idx], on=month)
        for j, i in enumerate(idx):
            eligible[i] = bool(result.eligible[j])
            amounts[i] = int(result.amount_fen[j])
            persons[i] = int(result.persons[j])
    order = sorted(range(len(pending)), key=lambda i: (
        pending[i].township, pending[i].program, pending[i].kind, pending[i].enrolment_id or 0,
        pending[i].grant_id or 0, pending[i].for_month))
    roll_pk, roll_uid, roll_hex = roll.pk, str(roll.uid), roll.uid.hex
    labels = {m: domain.month_label(m) for m in by_month}
    seal_header = domain.line_sealer()
    built = Built(seals=[], adjustments={}, carry={})
    for i in order:
        p = pending[i]
        amount = amounts[i] if eligible[i] else 0
        hold = ""
        if p.kind == LineKind.ARREARS and (not eligible[i] or not p.person_active):
            continue  # nothing is owed for that month
        if not p.person_active:
            hold = "收款人已故或已迁出"
        elif not eligible[i]:
            hold = "规则判定本月不符合条件,请复核"
        elif not p.snapshot.get("bank"):
            hold = "缺少收款账号"
        adjustment, total = 0, amount
        applied: list[int] = []
        if not hold and p.adjustments:
            total, adjustment, owed = domain.apply_adjustments(amount, [fen for _, fen in p.adjustments])
            applied = [adj_id for adj_id, _ in p.adjustments]
            if owed < 0 and p.enrolment_id is not None:
                built.carry[p.enrolment_id] = owed
        if not hold and total == 0 and amount == 0 and not applied:
            continue  # e.g. 低边 without a cash top-up: eligible, nothing to pay this month
        label = labels[p.for_month]
        key = f"{roll_hex}:{p.beneficiary_hex}:{label}"  # the payment key: (roll, beneficiary, month)
        line_persons = persons[i]
        snapshot_json = domain.canonical(p.snapshot)
        digest = domain.snapshot_digest(snapshot_json)
        seal = seal_header(domain.line_header(
            key, roll_uid, domain.beneficiary_ref(p.enrolment_id, p.grant_id), str(p.person_id), p.program, p.kind,
            label, line_persons, amount, adjustment, total), digest)
        status = LineStatus.HELD if hold else LineStatus.PENDING
        write((
            roll_pk, key, p.enrolment_id, p.grant_id, p.person_id, p.program, p.kind, p.for_month, p.area_path,
            p.township, line_persons, eligible[i], amount, adjustment, total, snapshot_json.decode(), digest, seal,
            status, hold,
        ))
        built.seals.append(seal)
        if applied:
            built.adjustments[key] = applied
        built.line_count += 1
        if hold:
            built.held += 1
        else:
            built.persons += line_persons
            built.total += total
    return built


@contextmanager
def _line_writer() -> Iterator[Callable[[tuple[Any, ...]], None]]:
    """A writer of lines (``LINE_COLUMNS``): COPY on PostgreSQL, streamed, so the server stores the
    lines while the next ones are being sealed; batched INSERTs elsewhere."""
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        table = qn(PayrollLine._meta.db_table)
        column_of = {f.attname: f.column for f in PayrollLine._meta.concrete_fields}
        cols = ", ".join(qn(column_of[name]) for name in LINE_COLUMNS)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            yield copy.write_row
        return
    rows: list[tuple[Any, ...]] = []
    yield rows.append
    PayrollLine.objects.bulk_create(
        (PayrollLine(**dict(zip(LINE_COLUMNS, row, strict=True))) for row in rows), batch_size=2000
    )


@retry_on_conflict
@_gc_paused()
def payroll_freeze(*, actor: Actor | None, roll: PayrollRoll | int) -> PayrollRoll:
    """Freeze the month's snapshot, compute every line with the rules, seal and store them.

    One transaction (REPEATABLE READ on PostgreSQL when it is the outermost one), so the snapshot is
    consistent and a crash leaves nothing behind. A frozen roll is returned as it is (idempotent)."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    with transaction.atomic():
        if connection.vendor == "postgresql" and _outermost():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        roll = _lock_roll(roll)
        if roll.status != RollStatus.DRAFT:
            if roll.status == RollStatus.CANCELLED:
                raise Conflict("名册已作废", code="roll_cancelled")
            return roll
        period = PayrollPeriod.objects.filter(month=roll.month).first()
        if period is None or period.status != PeriodStatus.CLOSED:
            raise Conflict(f"{domain.month_label(roll.month)} 尚未关账", code="period_not_closed")
        if PayrollRoll.objects.filter(month__lt=roll.month, status__in=sorted(UNFINISHED_ROLL)).exists():
            raise Conflict("之前月份的发放名册尚未办结", code="previous_roll_unfinished")
        pending = _collect(roll.month)
        _checkpoint("collected", len(pending))
        with _line_writer() as write:
            built = _build(roll, pending, write)
            _checkpoint("built", built.line_count)  # with the COPY still open
        if built.adjustments:
            ids = dict(PayrollLine.objects.filter(roll=roll, payment_key__in=list(built.adjustments))
                       .values_list("payment_key", "id"))
            for key, adj_ids in built.adjustments.items():
                Adjustment.objects.filter(pk__in=adj_ids).update(applied_in_id=ids[key])
        for eid, owed in built.carry.items():
            Adjustment.objects.create(enrolment_id=eid, kind=AdjustmentKind.RECOVERY, amount_fen=owed,
                                      reason="上月追回未扣完的部分,结转本月", created_by_name=c.SYSTEM_NAME)
        actor_id, actor_name = c.who(actor)
        roll.status = RollStatus.FROZEN
        roll.frozen_at, roll.frozen_by_id, roll.frozen_by_name = timezone.now(), actor_id, actor_name
        roll.line_count, roll.held_count, roll.persons, roll.total_fen = built.line_count, built.held, built.persons, built.total
        roll.seals_digest = domain.seals_digest(built.seals)
        roll.save()
        audit_record(actor=actor, event_type="assistance.payroll.freeze", object_type="assistance.roll",
                     object_id=roll.uid, extra={"lines": built.line_count, "held": built.held,
                                                "total_fen": built.total, "digest": bytes(roll.seals_digest).hex()})
    return roll


def _outermost() -> bool:
    # Inside the atomic() just opened: it is the outermost block when no savepoint was taken.
    return connection.in_atomic_block and not connection.savepoint_ids


# ---------------------------------------------------------------------------------- verification


VERIFY_COLUMNS = (
    "id", "payment_key", "enrolment_id", "grant_id", "person_id", "program", "kind", "for_month", "persons",
    "amount_fen", "adjustment_fen", "total_fen", "snapshot_digest", "seal", "eligible",
)
SNAPSHOT_AT = len(VERIFY_COLUMNS)  # the snapshot itself is fetched after these columns, for a full check


@dataclass(frozen=True)
class Problem:
    line_id: int
    payment_key: str
    what: str


def verify_lines(roll: PayrollRoll, rows: Sequence[Sequence[Any]], *, full: bool) -> tuple[list[Problem], list[bytes]]:
    """Re-check each line's seal over its amounts and snapshot digest. ``full`` (approval) also
    re-derives each digest from the snapshot and each amount from the snapshot through the rules;
    payment re-checks only what it pays (the seal), which needs no snapshot."""
    problems: list[Problem] = []
    seals: list[bytes] = []
    roll_uid = str(roll.uid)
    labels: dict[date, str] = {}
    seal_header = domain.line_sealer()
    for row in rows:
        (pk, key, enrolment_id, grant_id, person_id, program, kind, month, persons, amount, adjustment, total, digest,
         seal, _el) = row[:SNAPSHOT_AT]
        digest = bytes(digest)
        if full and domain.snapshot_digest(str(row[SNAPSHOT_AT]).encode()) != digest:
            problems.append(Problem(pk, key, "快照与封签摘要不符(快照被改动)"))
        label = labels.get(month) or labels.setdefault(month, domain.month_label(month))
        try:
            expected = seal_header(domain.line_header(
                key, roll_uid, domain.beneficiary_ref(enrolment_id, grant_id), str(person_id), program, kind, label,
                persons, amount, adjustment, total), digest)
        except ValueError:
            expected = b""
        stored = bytes(seal)
        seals.append(stored)
        if not crypto.constant_time_equal(expected, stored):
            problems.append(Problem(pk, key, "封签不符(金额或快照被改动)"))
    if full and rows:
        by_month: dict[date, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            by_month[row[7]].append(i)
        for month, idx in by_month.items():
            snapshots = []
            for i in idx:
                try:
                    snapshots.append(orjson.loads(rows[i][SNAPSHOT_AT]))
                except ValueError:
                    snapshots.append({"p": "linshi", "amt": -1})  # unreadable: recomputes to a mismatch
            result = domain.compute(snapshots, on=month)
            for j, i in enumerate(idx):
                row = rows[i]
                want = int(result.amount_fen[j]) if bool(result.eligible[j]) else 0
                if want != row[9] or bool(result.eligible[j]) != row[14] or int(result.persons[j]) != row[8]:
                    problems.append(Problem(row[0], row[1], f"按快照重算金额为 {want} 分,名册为 {row[9]} 分"))
    return problems, seals


@retry_on_conflict
@_gc_paused()
def payroll_approve(*, actor: Actor, roll: PayrollRoll | int) -> PayrollRoll:
    """Review and approve a frozen roll: a second person (not its maker), after every seal and every
    amount has been re-checked from the snapshot. A tampered roll is refused (and the refusal audited)."""
    c.require(actor, AssistancePerm.APPROVE_PAYROLL)
    problems: list[Problem] = []
    with transaction.atomic():
        locked = _lock_roll(roll)
        if locked.status != RollStatus.FROZEN:
            raise Conflict(f"名册状态为{RollStatus(locked.status).label},不能审核", code="bad_state",
                           extra={"status": locked.status})
        if c.same_person(actor, locked.created_by_id, locked.created_by_name) or \
                c.same_person(actor, locked.frozen_by_id, locked.frozen_by_name):
            raise PermissionDenied("审核人不能是名册的制表人(双人复核)", code="maker_checker")
        rows = list(PayrollLine.objects.filter(roll=locked).order_by("id").values_list(*VERIFY_COLUMNS, "snapshot"))
        problems, seals = verify_lines(locked, rows, full=True)
        if not problems and not crypto.constant_time_equal(domain.seals_digest(seals), bytes(locked.seals_digest or b"")):
            problems.append(Problem(0, "", "名册整体摘要不符(有明细被增删)"))
        if problems:
            audit_record(actor=actor, event_type="assistance.payroll.approve", object_type="assistance.roll",
                         object_id=locked.uid, result="failure",
                         extra={"problems": [p.__dict__ for p in problems[:20]], "count": len(problems)})
        else:
            actor_id, actor_name = c.who(actor)
            locked.status, locked.approved_at = RollStatus.APPROVED, timezone.now()
            locked.approved_by_id, locked.approved_by_name = actor_id, actor_name
            locked.save(update_fields=["status", "approved_at", "approved_by_id", "approved_by_name", "updated_at"])
            audit_record(actor=actor, event_type="assistance.payroll.approve", object_type="assistance.roll",
                         object_id=locked.uid, extra={"lines": len(rows), "total_fen": locked.total_fen})
    if problems:
        raise Conflict(f"名册校验未通过:{len(problems)} 笔明细与封签或规则重算结果不符", code="roll_tampered",
                       extra={"problems": [p.__dict__ for p in problems[:20]]})
    return locked


def payroll_cancel(*, actor: Actor, roll: PayrollRoll | int, reason: str) -> PayrollRoll:
    """Void a roll before anything of it was paid; its lines and adjustments return to the next roll."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    text = domain.clean_text(reason, "reason", required=True, max_len=200)
    with transaction.atomic():
        locked = _lock_roll(roll)
        if locked.status not in (RollStatus.DRAFT, RollStatus.FROZEN, RollStatus.APPROVED) or locked.postings.exists():
            raise Conflict("已开始发放的名册不能作废", code="bad_state")
        Adjustment.objects.filter(applied_in__roll=locked, status=AdjustmentStatus.OPEN).update(applied_in=None)
        PayrollLine.objects.filter(roll=locked).update(status=LineStatus.CANCELLED)
        locked.status, locked.cancel_reason = RollStatus.CANCELLED, text
        locked.save(update_fields=["status", "cancel_reason", "updated_at"])
        audit_record(actor=actor, event_type="assistance.payroll.cancel", object_type="assistance.roll",
                     object_id=locked.uid, reason=text)
    return locked


# ---------------------------------------------------------------------------------- bank file


BANK_COLUMNS = ("序号", "业务流水号", "收款人", "开户银行", "银行账号", "金额(元)", "救助类别", "所属月份", "街道(镇)")


def _bank_rows(roll: PayrollRoll) -> list[tuple[Any, ...]]:
    from minzheng.divisions.models import Division

    towns = dict(Division.objects.filter(level="township").values_list("code", "name"))
    rows: list[tuple[Any, ...]] = []
    qs = PayrollLine.objects.filter(roll=roll, status=LineStatus.PENDING, total_fen__gt=0) \
        .order_by("id").values_list("payment_key", "person__name", "enrolment__uid", "enrolment__bank_name",
                                     "enrolment__bank_account_sealed", "grant__uid", "grant__bank_name",
                                     "grant__bank_account_sealed", "total_fen", "program", "for_month", "township_code",
                                     "snapshot")
    bad: list[str] = []
    for i, (key, name, e_uid, e_bank, e_sealed, g_uid, g_bank, g_sealed, total, program, month, town, snap) in enumerate(qs, 1):
        if e_uid is not None:
            account, bank = c.unseal_account("enrolment", e_uid, e_sealed), e_bank
        else:
            account, bank = c.unseal_account("grant", g_uid, g_sealed), g_bank
        if not account or crypto.blind_index("bank", account).hex() != orjson.loads(snap).get("bank"):
            bad.append(key)
            continue
        rows.append((i, key, name, bank, account, f"{total // 100}.{total % 100:02d}", Program(program).label,
                     domain.month_label(month), towns.get(town, town)))
    if bad:
        raise Conflict(f"{len(bad)} 笔收款账号在名册生成后被更改,请作废名册后重新生成", code="account_changed",
                       extra={"payment_keys": bad[:20]})
    return rows


@_gc_paused()
def payroll_bank_file(*, actor: Actor, roll: PayrollRoll | int) -> bytes:
    """The bank disbursement file (Excel) of an approved roll. It holds full account numbers: only
    for the bank, behind its own permission, audited; its rows' SM3 digest is fixed the first time."""
    from openpyxl import Workbook

    c.require(actor, AssistancePerm.EXPORT_BANK_FILE)
    with transaction.atomic():
        locked = _lock_roll(roll)
        if locked.status not in (RollStatus.APPROVED, RollStatus.PAYING, RollStatus.PAID):
            raise Conflict("名册审核通过后才能生成银行代发文件", code="bad_state", extra={"status": locked.status})
        rows = _bank_rows(locked)
        digest = crypto.sm3(domain.canonical([list(r) for r in rows])).hex()
        if locked.bank_file_digest and locked.bank_file_digest != digest:
            raise Conflict("银行代发文件内容与首次生成时不一致", code="bank_file_changed")
        if not locked.bank_file_digest:
            locked.bank_file_digest, locked.bank_file_at = digest, timezone.now()
            locked.save(update_fields=["bank_file_digest", "bank_file_at", "updated_at"])
        audit_record(actor=actor, event_type="assistance.payroll.bank_file", object_type="assistance.roll",
                     object_id=locked.uid, extra={"rows": len(rows), "digest": digest})
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("代发明细")
    ws.append(list(BANK_COLUMNS))
    for row in rows:
        ws.append(list(row))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------------------------- paying


@_gc_paused()
def payroll_pay(*, actor: Actor | None, roll: PayrollRoll | int) -> PayrollRoll:
    """Post the approved roll to the ledger, township by township (resumable; see the module doc)."""
    c.require(actor, AssistancePerm.RUN_PAYROLL)
    with transaction.atomic():
        locked = _lock_roll(roll)
        if locked.status == RollStatus.PAID:
            return locked
        if locked.status not in (RollStatus.APPROVED, RollStatus.PAYING):
            raise Conflict("名册未审核通过,不能发放", code="bad_state", extra={"status": locked.status})
        if not locked.bank_file_digest:
            raise Conflict("请先生成银行代发文件", code="bank_file_missing")
        if locked.status == RollStatus.APPROVED:
            locked.status = RollStatus.PAYING
            locked.save(update_fields=["status", "updated_at"])
    groups = sorted(
        PayrollLine.objects.filter(roll=locked, status=LineStatus.PENDING)
        .values_list("township_code", "program").distinct()
    )
    ensure_accounts(expense_account(program, town) for town, program in groups)
    towns = sorted({town for town, _ in groups})
    for i, town in enumerate(towns):
        _pay_township(actor, locked.pk, town)
        _checkpoint("paid_township", i)
    with transaction.atomic():
        locked = _lock_roll(locked.pk)
        posted = set(locked.postings.values_list("township_code", flat=True))
        waiting = set(PayrollLine.objects.filter(roll=locked, status=LineStatus.PENDING)
                      .values_list("township_code", flat=True).distinct()) - posted
        if not waiting and locked.status != RollStatus.PAID:
            locked.status, locked.paid_at = RollStatus.PAID, timezone.now()
            locked.save(update_fields=["status", "paid_at", "updated_at"])
            audit_record(actor=actor, event_type="assistance.payroll.paid", object_type="assistance.roll",
                         object_id=locked.uid, extra={"total_fen": locked.total_fen, "townships": len(posted)})
    return locked


@retry_on_conflict
def _pay_township(actor: Actor | None, roll_pk: int, town: str) -> None:
    """One township: re-check the seals of what is paid, post it, record the posting. The roll row
    lock serialises this with holds (death, exit) so that no line changes under it."""
    with transaction.atomic():
        roll = _lock_roll(roll_pk)
        if PayrollPosting.objects.filter(roll=roll, township_code=town).exists():
            return
        paying = PayrollLine.objects.filter(roll=roll, township_code=town, status=LineStatus.PENDING)
        rows = list(paying.order_by("id").values_list(*VERIFY_COLUMNS))
        if not rows:
            return
        problems, _ = verify_lines(roll, rows, full=False)
        if problems:
            raise Conflict(f"{len(problems)} 笔明细封签不符,已停止发放", code="roll_tampered",
                           extra={"problems": [p.__dict__ for p in problems[:20]]})
        sums: dict[str, int] = defaultdict(int)
        for row in rows:
            if row[11] > 0:
                sums[row[5]] += row[11]
        total = sum(sums.values())
        txn_id: int | None = None
        replayed = False
        if total > 0:  # a township whose lines were all recovered to zero moves no money
            lines = [(expense_account(program, town), fen) for program, fen in sorted(sums.items())] + [(FUND, -total)]
            txn = ledger.txn_post(
                actor=actor, key=f"assistance:payroll:{roll.uid}:{town}", kind=LEDGER_KIND, lines=lines,
                memo=f"{domain.month_label(roll.month)} 社会救助金发放", occurred_at=None,
                metadata={"roll": str(roll.uid), "township": town, "lines": len(rows), "total_fen": total},
            )
            txn_id, replayed = int(txn.pk), bool(getattr(txn, "replayed", False))
        now = timezone.now()
        _record_posting(roll, town, txn_id, len(rows), total)
        if any(row[6] == LineKind.ONE_OFF for row in rows):  # the grants by a join, not by a list of 1,500 ids
            Grant.objects.filter(pk__in=paying.filter(kind=LineKind.ONE_OFF).values("grant_id")).update(
                status=GrantStatus.PAID, paid_at=now, ledger_txn_id=txn_id)
        Adjustment.objects.filter(  # from the few open adjustments to their lines, not from 40,000 lines to them
            status=AdjustmentStatus.OPEN, applied_in__roll=roll, applied_in__township_code=town,
            applied_in__status=LineStatus.PENDING,
        ).update(status=AdjustmentStatus.APPLIED)
        audit_record(actor=actor, event_type="assistance.payroll.post", object_type="assistance.roll", object_id=roll.uid,
                     extra={"township": town, "lines": len(rows), "total_fen": total, "txn": txn_id, "replayed": replayed})


def _record_posting(roll: PayrollRoll, town: str, txn_id: int | None, lines: int, total: int) -> PayrollPosting:
    """The row that makes the township's lines paid (a seam for the crash tests, too)."""
    return PayrollPosting.objects.create(roll=roll, township_code=town, ledger_txn_id=txn_id, lines=lines, total_fen=total)
