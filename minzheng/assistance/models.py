"""精准救助 records: applications, enrolments, payroll, visits, outreach and the service records.

Staff are referred to by id and username (``*_by_id`` / ``*_by_name``), as the people registry does:
the actor may be a member of staff, a machine key or a scheduled job. Money is integer fen
(``BigIntegerField``). Every row that belongs to a place carries ``area_path`` (the division's
materialised path) so that selectors cut it to the actor's area with one prefix test.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q

from minzheng.assistance.enums import (
    LIVE_ENROLMENT,
    OPEN_APPLICATION,
    AdjustmentKind,
    AdjustmentStatus,
    ApplicationStatus,
    AssetKind,
    AttachmentKind,
    CareForm,
    ChildCategory,
    EnrolmentStatus,
    EvidenceSource,
    ExitReason,
    Finding,
    GrantStatus,
    HousingStatus,
    IncomeKind,
    LineKind,
    LineStatus,
    OutreachStatus,
    PeriodStatus,
    Program,
    ProjectStatus,
    RescueStage,
    ReviewOutcome,
    RollStatus,
    Stability,
    TaskStatus,
    VisitPlace,
)
from minzheng.core.models import BaseModel
from minzheng.people.enums import Relation

PATTERN_OPS = ["varchar_pattern_ops"]  # prefix LIKE on PostgreSQL; ignored by SQLite


def _values(enum_values: frozenset[str] | set[str]) -> list[str]:
    return sorted(str(v) for v in enum_values)


class Placed(BaseModel):
    """A record that belongs to a community: scoped by ``area_path``, reported by township."""

    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+", verbose_name="村社")
    area_path = models.CharField(max_length=64)
    township_code = models.CharField("街道(镇)", max_length=12, db_index=True)

    class Meta:
        abstract = True


# --------------------------------------------------------------------------------- applications


class Application(Placed):
    """One request for assistance and its way through 申请→受理→核对→入户调查→公示→审批."""

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    program = models.CharField("救助类别", max_length=16, choices=Program.as_choices())
    applicant = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", verbose_name="申请人")
    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = models.CharField("状态", max_length=16, choices=ApplicationStatus.as_choices(), default=ApplicationStatus.DRAFT)
    reason = models.TextField("申请事由", blank=True)
    emergency = models.BooleanField("急难情形(先行救助)", default=False)
    requested_fen = models.BigIntegerField("申请金额(分)", null=True, blank=True)
    persons = models.PositiveSmallIntegerField("救助人数", default=1)
    exceptional = models.BooleanField("特别困难情形", default=False)
    facts = models.JSONField("认定事实", default=dict, blank=True)  # program inputs (特困 ADLs, 儿童类别…)
    housing_ok = models.BooleanField("住房符合规定", default=True)
    bank_name = models.CharField("开户银行", max_length=64, blank=True)
    bank_account_sealed = models.BinaryField("收款账号(密文)", null=True)
    bank_account_masked = models.CharField("收款账号", max_length=32, blank=True)

    created_by_id = models.BigIntegerField("登记人ID", null=True)
    created_by_name = models.CharField("登记人", max_length=150, blank=True)
    submitted_at = models.DateTimeField("申请时间", null=True, blank=True)
    accepted_on = models.DateField("受理日期", null=True, blank=True)
    accepted_by_id = models.BigIntegerField(null=True, blank=True)
    accepted_by_name = models.CharField("受理人", max_length=150, blank=True)
    prelim_due = models.DateField("初审期限", null=True, blank=True)
    checked_at = models.DateTimeField("核对完成时间", null=True, blank=True)
    checked_by_name = models.CharField("核对人", max_length=150, blank=True)
    economy = models.JSONField("核对结果", default=dict, blank=True)  # totals the check produced

    investigator_id = models.BigIntegerField("调查人ID", null=True, blank=True)
    investigator_name = models.CharField("调查人", max_length=150, blank=True)
    investigated_on = models.DateField("入户调查日期", null=True, blank=True)
    investigation_findings = models.TextField("调查情况", blank=True)
    investigation_recommends = models.BooleanField("初审意见:同意", null=True)
    prelim_on = models.DateField("初审日期", null=True, blank=True)

    publicity_start = models.DateField("公示开始", null=True, blank=True)
    publicity_end = models.DateField("公示截止", null=True, blank=True)
    objection_note = models.TextField("公示异议", blank=True)
    review_due = models.DateField("审批期限", null=True, blank=True)

    approver_id = models.BigIntegerField("审批人ID", null=True, blank=True)
    approver_name = models.CharField("审批人", max_length=150, blank=True)
    decided_on = models.DateField("审批日期", null=True, blank=True)
    decision_eligible = models.BooleanField("规则判定:符合", null=True)
    decision_amount_fen = models.BigIntegerField("规则核定金额(分)", null=True, blank=True)
    decision_trace = models.JSONField("规则判定依据", default=dict, blank=True)
    approved_amount_fen = models.BigIntegerField("批准金额(分)", null=True, blank=True)
    refusal_reason = models.TextField("不予受理/不予批准理由", blank=True)
    notice_due = models.DateField("书面告知期限", null=True, blank=True)
    docs_due = models.DateField("补齐材料期限", null=True, blank=True)
    deadlines_estimated = models.BooleanField("期限按工作日估算(节假日数据缺失)", default=False)

    class Meta:
        verbose_name = "救助申请"
        indexes = [
            models.Index(fields=["area_path", "status"], opclasses=PATTERN_OPS * 2, name="assist_app_area_idx"),
            models.Index(fields=["status", "prelim_due"], name="assist_app_due_idx"),
        ]
        constraints = [
            # One open application per person and program, whatever races (bad input: a duplicate).
            models.UniqueConstraint(
                fields=["applicant", "program"], condition=Q(status__in=_values(OPEN_APPLICATION)),
                name="assist_app_one_open_per_program",
            ),
            models.CheckConstraint(condition=Q(requested_fen__isnull=True) | Q(requested_fen__gte=0),
                                   name="assist_app_requested_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.get_program_display()}申请 {str(self.uid)[:8]}"


class ApplicationMember(models.Model):
    """A member of the applicant's household as declared and verified for the means test."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    relation = models.CharField("与申请人关系", max_length=16, choices=Relation.as_choices())
    student = models.BooleanField("全日制在校生(本科及以下)", default=False)
    cannot_live_independently = models.BooleanField("不能独立生活", default=False)
    co_resident = models.BooleanField("长期共同居住", default=True)
    away = models.PositiveSmallIntegerField("离家情形", default=0)
    able_bodied = models.BooleanField("有劳动能力", default=False)

    class Meta:
        verbose_name = "申请家庭成员"
        constraints = [models.UniqueConstraint(fields=["application", "person"], name="assist_appmember_once")]


class Attachment(BaseModel):
    """Evidence: stored in the database (≤ the upload limit), typed by its bytes, hashed with SM3."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField("材料类型", max_length=24, choices=AttachmentKind.as_choices())
    filename = models.CharField("文件名", max_length=128)
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField("大小(字节)")
    sm3 = models.CharField("SM3摘要", max_length=64)
    content = models.BinaryField()
    uploaded_by_id = models.BigIntegerField(null=True)
    uploaded_by_name = models.CharField("上传人", max_length=150, blank=True)

    class Meta:
        verbose_name = "申请材料"


class IncomeItem(BaseModel):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="incomes")
    member = models.ForeignKey(ApplicationMember, on_delete=models.CASCADE, related_name="incomes")
    kind = models.CharField("收入类型", max_length=16, choices=IncomeKind.as_choices())
    monthly_fen = models.BigIntegerField("月收入(分)")
    source = models.CharField("来源", max_length=16, choices=EvidenceSource.as_choices(), default=EvidenceSource.DECLARED)
    evidence = models.ForeignKey(Attachment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "家庭收入"
        constraints = [models.CheckConstraint(condition=Q(monthly_fen__gte=0), name="assist_income_nonneg")]


class AssetItem(BaseModel):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="assets")
    kind = models.CharField("财产类型", max_length=24, choices=AssetKind.as_choices())
    value_fen = models.BigIntegerField("价值(分)")
    source = models.CharField("来源", max_length=16, choices=EvidenceSource.as_choices(), default=EvidenceSource.DECLARED)
    evidence = models.ForeignKey(Attachment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.CharField("说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "家庭财产"
        constraints = [models.CheckConstraint(condition=Q(value_fen__gte=0), name="assist_asset_nonneg")]


class ApplicationEvent(models.Model):
    """The visible timeline of an application (the audit log holds the tamper-evident copy)."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField("时间", auto_now_add=True)
    action = models.CharField("操作", max_length=32)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor_id = models.BigIntegerField(null=True)
    actor_name = models.CharField("操作人", max_length=150, blank=True)
    note = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "申请办理记录"
        ordering = ["at", "id"]


# ---------------------------------------------------------------------------------- enrolments


class Enrolment(Placed):
    """A person (or household, through its members) in a recurring program, paid monthly."""

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    program = models.CharField("救助类别", max_length=16, choices=Program.as_choices())
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", verbose_name="保障对象(收款人)")
    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    application = models.ForeignKey(Application, on_delete=models.PROTECT, null=True, blank=True, related_name="enrolments")
    status = models.CharField("状态", max_length=16, choices=EnrolmentStatus.as_choices(), default=EnrolmentStatus.ACTIVE)
    start_month = models.DateField("起始发放月")
    end_month = models.DateField("最后发放月", null=True, blank=True)
    covered_through = models.DateField("已发放至", null=True, blank=True)
    monthly_fen = models.BigIntegerField("核定月金额(分)", default=0)
    persons = models.PositiveSmallIntegerField("保障人数", default=1)
    stability = models.CharField("复核频次", max_length=16, choices=Stability.as_choices(), default=Stability.STABLE)
    next_review_on = models.DateField("下次复核", null=True, blank=True)
    grace_until = models.DateField("渐退期至", null=True, blank=True)
    exit_reason = models.CharField("退出原因", max_length=24, choices=ExitReason.as_choices(), blank=True)
    exit_note = models.TextField("退出说明", blank=True)
    exited_on = models.DateField("退出日期", null=True, blank=True)
    suspended_reason = models.CharField("暂停原因", max_length=200, blank=True)
    last_trace = models.JSONField("最近一次规则判定", default=dict, blank=True)
    # 低保 / 低边 household inputs (verified at approval and at each review)
    money_assets_fen = models.BigIntegerField("货币财产(分)", default=0)
    vehicles = models.PositiveSmallIntegerField("非豁免机动车", default=0)
    vehicle_value_fen = models.BigIntegerField("车辆价值(分)", default=0)
    housing_ok = models.BooleanField("住房符合规定", default=True)
    business_capital_fen = models.BigIntegerField("认缴出资(分)", default=0)
    # 特困 inputs
    disabled = models.BooleanField("残疾人", default=False)
    able_to_work = models.BooleanField("有劳动能力", default=False)
    has_income_source = models.BooleanField("有生活来源", default=False)
    has_capable_supporter = models.BooleanField("有履行能力的法定义务人", default=False)
    adl_failed = models.PositiveSmallIntegerField("不能自理项数(0-6)", default=0)
    care_form = models.CharField("供养方式", max_length=16, choices=CareForm.as_choices(), blank=True)
    # 儿童
    child_category = models.CharField("儿童类别", max_length=2, choices=ChildCategory.as_choices(), blank=True)
    # payee
    bank_name = models.CharField("开户银行", max_length=64, blank=True)
    bank_account_sealed = models.BinaryField("收款账号(密文)", null=True)
    bank_account_masked = models.CharField("收款账号", max_length=32, blank=True)
    bank_ref = models.CharField("账号索引", max_length=64, blank=True)

    class Meta:
        verbose_name = "保障对象"
        indexes = [
            models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="assist_enrol_area_idx"),
            models.Index(fields=["program", "status"], name="assist_enrol_prog_idx"),
            models.Index(fields=["status", "next_review_on"], name="assist_enrol_review_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "program"], condition=Q(status__in=_values(LIVE_ENROLMENT)),
                name="assist_enrol_one_live_per_program",
            ),
            models.CheckConstraint(condition=Q(adl_failed__lte=6), name="assist_enrol_adl_range"),
        ]

    def __str__(self) -> str:
        return f"{self.get_program_display()} {str(self.uid)[:8]}"


class EnrolmentMember(models.Model):
    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="members")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    relation = models.CharField("与申请人关系", max_length=16, choices=Relation.as_choices())
    income_fen = models.BigIntegerField("月收入(分,不含新就业)", default=0)
    job_income_fen = models.BigIntegerField("新就业月收入(分)", default=0)
    job_disregard_until = models.DateField("新就业收入豁免至", null=True, blank=True)
    student = models.BooleanField(default=False)
    cannot_live_independently = models.BooleanField(default=False)
    co_resident = models.BooleanField(default=True)
    away = models.PositiveSmallIntegerField(default=0)
    able_bodied = models.BooleanField("有劳动能力", default=False)
    active = models.BooleanField("在户", default=True)

    class Meta:
        verbose_name = "保障家庭成员"
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "person"], name="assist_enrolmember_once"),
            models.CheckConstraint(condition=Q(income_fen__gte=0) & Q(job_income_fen__gte=0), name="assist_enrolmember_income_nonneg"),
        ]


class EnrolmentReview(BaseModel):
    """A periodic or ad-hoc review (复核) and what the rules said."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="reviews")
    reviewed_on = models.DateField("复核日期")
    outcome = models.CharField("结论", max_length=16, choices=ReviewOutcome.as_choices())
    eligible = models.BooleanField("规则判定:符合")
    amount_fen = models.BigIntegerField("核定金额(分)")
    previous_fen = models.BigIntegerField("原金额(分)")
    trace = models.JSONField("规则判定依据", default=dict)
    note = models.TextField("说明", blank=True)
    reviewer_id = models.BigIntegerField(null=True)
    reviewer_name = models.CharField("复核人", max_length=150, blank=True)

    class Meta:
        verbose_name = "复核记录"


class Grant(Placed):
    """A one-off payment (临时救助, 专项救助): paid through the next roll, or at once (先行救助).

    Paying a roll updates some 17,000 of them, and an update that changes ``status`` writes a new
    entry in every index: so a grant has only the indexes something reads (the due grants, partial,
    which a paid grant leaves; uid; application; person), not those of its place and creation time:
    no list of grants is cut by place or ordered by creation."""

    created_at = models.DateTimeField("创建时间", auto_now_add=True)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+", verbose_name="村社",
                                 db_index=False)
    township_code = models.CharField("街道(镇)", max_length=12)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="grant")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    program = models.CharField("救助类别", max_length=16, choices=Program.as_choices())
    amount_fen = models.BigIntegerField("金额(分)")
    persons = models.PositiveSmallIntegerField("救助人数", default=1)
    status = models.CharField("状态", max_length=16, choices=GrantStatus.as_choices(), default=GrantStatus.APPROVED)
    emergency = models.BooleanField("先行救助", default=False)
    approved_on = models.DateField("批准日期")
    pay_month = models.DateField("计划发放月")
    paid_at = models.DateTimeField("发放时间", null=True, blank=True)
    ledger_txn_id = models.BigIntegerField("记账凭证", null=True, blank=True)
    bank_account_sealed = models.BinaryField(null=True)
    bank_account_masked = models.CharField(max_length=32, blank=True)
    bank_name = models.CharField(max_length=64, blank=True)
    bank_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = "一次性救助"
        indexes = [models.Index(fields=["pay_month"], condition=Q(status=GrantStatus.APPROVED, emergency=False),
                                name="assist_grant_due_idx")]
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="assist_grant_positive")]


class Adjustment(BaseModel):
    """补发 (positive) or 追回 (negative), applied to the enrolment's next roll."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="adjustments")
    kind = models.CharField("类型", max_length=16, choices=AdjustmentKind.as_choices())
    amount_fen = models.BigIntegerField("金额(分,补发为正,追回为负)")
    months = models.CharField("所属月份", max_length=200, blank=True)
    reason = models.CharField("原因", max_length=300)
    status = models.CharField("状态", max_length=16, choices=AdjustmentStatus.as_choices(), default=AdjustmentStatus.OPEN)
    applied_in = models.ForeignKey("PayrollLine", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by_id = models.BigIntegerField(null=True)
    created_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "补发与追回"
        constraints = [models.CheckConstraint(condition=~Q(amount_fen=0), name="assist_adjust_nonzero")]


# ---------------------------------------------------------------------------------------- payroll


class PayrollPeriod(models.Model):
    """A month's books: changes are cut off when it is closed; a roll needs a closed month."""

    month = models.DateField("月份", unique=True)
    status = models.CharField("状态", max_length=8, choices=PeriodStatus.as_choices(), default=PeriodStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_id = models.BigIntegerField(null=True)
    closed_by_name = models.CharField("关账人", max_length=150, blank=True)

    class Meta:
        verbose_name = "发放月份"


class PayrollRoll(BaseModel):
    """The month's 发放名册: frozen, sealed line by line, approved by a second person, then paid."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    month = models.DateField("发放月份")
    status = models.CharField("状态", max_length=16, choices=RollStatus.as_choices(), default=RollStatus.DRAFT)
    created_by_id = models.BigIntegerField(null=True)
    created_by_name = models.CharField("制表人", max_length=150, blank=True)
    frozen_at = models.DateTimeField("生成时间", null=True, blank=True)
    frozen_by_id = models.BigIntegerField(null=True)
    frozen_by_name = models.CharField(max_length=150, blank=True)
    approved_at = models.DateTimeField("审核时间", null=True, blank=True)
    approved_by_id = models.BigIntegerField(null=True)
    approved_by_name = models.CharField("审核人", max_length=150, blank=True)
    paid_at = models.DateTimeField("发放完成", null=True, blank=True)
    line_count = models.PositiveIntegerField("笔数", default=0)
    held_count = models.PositiveIntegerField("暂停笔数", default=0)
    persons = models.PositiveIntegerField("人次", default=0)
    total_fen = models.BigIntegerField("金额合计(分)", default=0)
    seals_digest = models.BinaryField(max_length=32, null=True)
    bank_file_digest = models.CharField("银行文件摘要", max_length=64, blank=True)
    bank_file_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "发放名册"
        constraints = [
            models.UniqueConstraint(fields=["month"], condition=~Q(status=RollStatus.CANCELLED),
                                    name="assist_roll_one_per_month"),
        ]


class LineQuerySet(models.QuerySet["PayrollLine"]):
    def paid(self) -> LineQuerySet:
        """Lines whose township's posting exists: money has moved for them."""
        return self.filter(status=LineStatus.PENDING).filter(
            Exists(PayrollPosting.objects.filter(roll_id=OuterRef("roll_id"), township_code=OuterRef("township_code"))))

    def unpaid(self) -> LineQuerySet:
        return self.filter(status=LineStatus.PENDING).exclude(
            Exists(PayrollPosting.objects.filter(roll_id=OuterRef("roll_id"), township_code=OuterRef("township_code"))))

    def with_paid(self) -> LineQuerySet:
        return self.annotate(is_paid=Exists(PayrollPosting.objects.filter(
            roll_id=OuterRef("roll_id"), township_code=OuterRef("township_code"))))


class PayrollLine(models.Model):
    """One payment of a roll, frozen with it. ``payment_key`` is unique per (roll, beneficiary, month).
    The seal is an HMAC-SM3 over the amounts and ``snapshot_digest`` (SM3 of ``snapshot``, the
    canonical JSON text of the frozen inputs), so payment re-checks what it pays without re-reading
    every snapshot, and approval re-checks both. At most one live (pending) line exists per
    enrolment-month and per grant across all rolls (partial UNIQUE indexes), so nothing can be paid twice.
    A line is paid once its township's ``PayrollPosting`` exists; lines are never updated for it."""

    roll = models.ForeignKey(PayrollRoll, on_delete=models.PROTECT, related_name="lines", db_index=False)
    payment_key = models.CharField("业务流水号", max_length=120, unique=True)
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, null=True, blank=True, related_name="lines",
                                  db_index=False)
    grant = models.ForeignKey(Grant, on_delete=models.PROTECT, null=True, blank=True, related_name="lines", db_index=False)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    program = models.CharField(max_length=16, choices=Program.as_choices())
    kind = models.CharField(max_length=16, choices=LineKind.as_choices())
    for_month = models.DateField("所属月份")
    area_path = models.CharField(max_length=64)
    township_code = models.CharField(max_length=12)
    persons = models.PositiveSmallIntegerField("人次", default=1)
    eligible = models.BooleanField(default=True)
    amount_fen = models.BigIntegerField("应发(分)")
    adjustment_fen = models.BigIntegerField("补扣(分)", default=0)
    total_fen = models.BigIntegerField("实发(分)")
    snapshot = models.TextField("冻结快照(规范JSON)")
    snapshot_digest = models.BinaryField(max_length=32)
    seal = models.BinaryField(max_length=32)
    status = models.CharField(max_length=16, choices=LineStatus.as_choices(), default=LineStatus.PENDING)
    hold_reason = models.CharField("暂停原因", max_length=200, blank=True)

    objects = LineQuerySet.as_manager()

    class Meta:
        verbose_name = "发放明细"
        indexes = [
            models.Index(fields=["roll", "township_code", "status"], name="assist_line_roll_idx"),
            models.Index(fields=["enrolment", "for_month"], name="assist_line_enrol_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "for_month"], condition=Q(status=LineStatus.PENDING),
                                    name="assist_line_live_once_per_month"),
            models.UniqueConstraint(fields=["grant"], condition=Q(status=LineStatus.PENDING),
                                    name="assist_line_grant_live_once"),
            models.CheckConstraint(condition=Q(total_fen__gte=0) & Q(amount_fen__gte=0), name="assist_line_nonneg"),
        ]

    @property
    def snapshot_data(self) -> dict[str, Any]:
        return dict(json.loads(self.snapshot))


class PayrollPosting(models.Model):
    """One township's share of a roll posted to the ledger (idempotency key
    ``assistance:payroll:<roll>:<township>``): the lines of that township are paid from then on."""

    roll = models.ForeignKey(PayrollRoll, on_delete=models.PROTECT, related_name="postings")
    township_code = models.CharField(max_length=12)
    ledger_txn_id = models.BigIntegerField("记账凭证", null=True, blank=True)
    lines = models.PositiveIntegerField("笔数")
    total_fen = models.BigIntegerField("金额(分)")
    posted_at = models.DateTimeField("入账时间", auto_now_add=True)

    class Meta:
        verbose_name = "发放入账"
        constraints = [models.UniqueConstraint(fields=["roll", "township_code"], name="assist_posting_once")]


# ------------------------------------------------------------------------------------------ visits


class Visit(Placed):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, null=True, blank=True, related_name="visits")
    visited_at = models.DateTimeField("探访时间")
    place = models.CharField("地点", max_length=16, choices=VisitPlace.as_choices())
    place_note = models.CharField("地点说明", max_length=120, blank=True)
    finding = models.CharField("探访结论", max_length=16, choices=Finding.as_choices())
    findings = models.TextField("探访情况")
    needs = models.JSONField("提出的需求", default=list, blank=True)
    needs_note = models.CharField("需求说明", max_length=300, blank=True)
    follow_up = models.CharField("跟进事项", max_length=300, blank=True)
    follow_up_due = models.DateField("跟进期限", null=True, blank=True)
    happiness_delivered = models.BooleanField("本次送达幸福清单", default=False)
    recorded_by_id = models.BigIntegerField(null=True)
    recorded_by_name = models.CharField("探访人", max_length=150, blank=True)

    class Meta:
        verbose_name = "探访记录"
        indexes = [models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="assist_visit_area_idx")]


class VisitTask(models.Model):
    """The monthly visit plan: one task per enrolled 在册对象 per month."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="visit_tasks")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    month = models.DateField("月份")
    area_path = models.CharField(max_length=64)
    township_code = models.CharField(max_length=12)
    division_code = models.CharField(max_length=12)
    status = models.CharField(max_length=16, choices=TaskStatus.as_choices(), default=TaskStatus.PLANNED)
    visit = models.ForeignKey(Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = "探访计划"
        constraints = [models.UniqueConstraint(fields=["enrolment", "month"], name="assist_task_once_per_month")]
        indexes = [models.Index(fields=["month", "status"], name="assist_task_month_idx")]


class HappinessDelivery(models.Model):
    """幸福清单 delivered to an enrolled object in a quarter (100 % target)."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="happiness")
    quarter = models.CharField("季度", max_length=6)
    delivered_on = models.DateField("送达日期")
    visit = models.ForeignKey(Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    items = models.CharField("清单内容", max_length=300, blank=True)
    area_path = models.CharField(max_length=64)
    recorded_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "幸福清单送达"
        constraints = [models.UniqueConstraint(fields=["enrolment", "quarter"], name="assist_happiness_once_per_quarter")]


# -------------------------------------------------------------------------------- discovery


class HouseholdEconomy(models.Model):
    """What data sharing (核对平台, 医保, 残联) tells about a household: the input of outreach."""

    household = models.OneToOneField("people.Household", on_delete=models.CASCADE, related_name="+")
    area_path = models.CharField(max_length=64)
    township_code = models.CharField(max_length=12)
    members = models.PositiveSmallIntegerField("人数")
    income_total_fen = models.BigIntegerField("家庭月收入(分)")
    money_assets_fen = models.BigIntegerField("货币财产(分)", default=0)
    medical_costs_12m_fen = models.BigIntegerField("近12个月医疗自付(分)", default=0)
    as_of = models.DateField("数据日期")
    source = models.CharField("来源", max_length=32, default="核对平台")

    class Meta:
        verbose_name = "家庭经济状况数据"
        constraints = [models.CheckConstraint(
            condition=Q(income_total_fen__gte=0) & Q(money_assets_fen__gte=0) & Q(medical_costs_12m_fen__gte=0),
            name="assist_economy_nonneg")]


class CareSignal(models.Model):
    """A ``CareSignalRaised`` from another module, kept as an outreach input."""

    person = models.ForeignKey("people.Person", on_delete=models.CASCADE, related_name="+")
    household_id_ref = models.BigIntegerField(null=True)
    area_path = models.CharField(max_length=64)
    source = models.CharField(max_length=32)
    kind = models.CharField(max_length=32)
    reason = models.CharField(max_length=300)
    severity = models.CharField(max_length=16, default="low")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "关爱信号"
        indexes = [models.Index(fields=["received_at"], name="assist_signal_at_idx")]


class OutreachCase(models.Model):
    household = models.OneToOneField("people.Household", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.SET_NULL, null=True, related_name="+")
    area_path = models.CharField(max_length=64)
    township_code = models.CharField(max_length=12)
    score = models.PositiveSmallIntegerField("风险分")
    reason_bits = models.PositiveIntegerField(default=0)
    reasons = models.JSONField("原因", default=list)
    computed_on = models.DateField("评估日期")
    status = models.CharField("状态", max_length=16, choices=OutreachStatus.as_choices(), default=OutreachStatus.OPEN)
    note = models.CharField("走访说明", max_length=300, blank=True)
    handled_by_name = models.CharField(max_length=150, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "主动发现"
        indexes = [models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="assist_outreach_area_idx")]


# ------------------------------------------------------------------------------ service records


class RescueCase(Placed):
    """流浪乞讨人员救助: found → sheltered → escorted home (or handed to relatives)."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey("people.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    display_name = models.CharField("称呼", max_length=32)
    gender = models.CharField("性别", max_length=1, blank=True)
    approx_age = models.PositiveSmallIntegerField("估计年龄", null=True, blank=True)
    found_on = models.DateField("发现日期")
    found_place = models.CharField("发现地点", max_length=120)
    stage = models.CharField("进展", max_length=16, choices=RescueStage.as_choices(), default=RescueStage.FOUND)
    sheltered_on = models.DateField("入站日期", null=True, blank=True)
    closed_on = models.DateField("结案日期", null=True, blank=True)
    destination = models.CharField("返乡地/去向", max_length=120, blank=True)
    note = models.TextField("情况说明", blank=True)
    recorded_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "流浪乞讨救助"


class ServiceProject(Placed):
    """助联体 service project: project, provider, beneficiaries, outcomes."""

    name = models.CharField("项目名称", max_length=100)
    provider = models.CharField("实施主体", max_length=100)
    level = models.CharField("层级", max_length=12)  # district / township / community
    need = models.CharField("服务内容", max_length=16)
    start_on = models.DateField("开始日期")
    end_on = models.DateField("结束日期", null=True, blank=True)
    budget_fen = models.BigIntegerField("预算(分)", default=0)
    status = models.CharField("状态", max_length=16, choices=ProjectStatus.as_choices(), default=ProjectStatus.PLANNED)
    outcomes = models.TextField("成效", blank=True)

    class Meta:
        verbose_name = "助联体服务项目"
        constraints = [models.CheckConstraint(condition=Q(budget_fen__gte=0), name="assist_project_budget_nonneg")]


class ProjectBeneficiary(models.Model):
    project = models.ForeignKey(ServiceProject, on_delete=models.CASCADE, related_name="beneficiaries")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    joined_on = models.DateField("纳入日期")
    outcome = models.CharField("服务成效", max_length=200, blank=True)

    class Meta:
        verbose_name = "项目受益人"
        constraints = [models.UniqueConstraint(fields=["project", "person"], name="assist_projectben_once")]


class HousingImprovement(Placed):
    """善居工程: a home improved for a household in difficulty."""

    household = models.ForeignKey("people.Household", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField("年度")
    works = models.CharField("改善内容", max_length=300)
    budget_fen = models.BigIntegerField("投入(分)", default=0)
    status = models.CharField("状态", max_length=16, choices=HousingStatus.as_choices(), default=HousingStatus.SURVEYED)
    surveyed_on = models.DateField("摸排日期")
    completed_on = models.DateField("完工日期", null=True, blank=True)
    recorded_by_name = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "善居工程"
        constraints = [models.CheckConstraint(condition=Q(budget_fen__gte=0), name="assist_housing_budget_nonneg")]
