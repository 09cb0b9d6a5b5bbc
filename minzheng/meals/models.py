"""智慧助餐: meal points, diners and their credentials, rule sets, the meal record, wallets,
reconciliation, claims, clearing and flags.

Money is integer fen (``BigIntegerField``). Persons and staff are referenced by foreign key
(people and accounts sit below this domain); ledger accounts by their code (see ``accounts.py``).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from minzheng.core.models import BaseModel
from minzheng.meals.enums import (
    YUHANG,
    Channel,
    ClaimStatus,
    CredentialKind,
    DinerStatus,
    ExceptionKind,
    ExceptionStatus,
    FlagKind,
    LeaveKind,
    MealStatus,
    PayerRule,
    PointType,
    RuleStatus,
    SecondMealPolicy,
    Slot,
)

PATTERN_OPS = ["varchar_pattern_ops"]
ALL_DAYS = [1, 2, 3, 4, 5, 6, 7]


def _all_days() -> list[int]:
    return list(ALL_DAYS)


class MealPoint(BaseModel):
    """A canteen or meal point (助餐点). ``region`` is its district: points of other districts
    appear here only as the places where Yuhang diners ate (reported through 全城通)."""

    code = models.CharField("编号", max_length=32, unique=True)
    name = models.CharField("名称", max_length=100)
    point_type = models.CharField("类型", max_length=24, choices=PointType.as_choices())
    operator_org = models.CharField("运营机构", max_length=100, blank=True)
    operator_credit_code = models.CharField("统一社会信用代码", max_length=18, blank=True)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name="所在村社")
    area_path = models.CharField(max_length=64, blank=True)
    region = models.CharField("所在区县", max_length=6, default=YUHANG)
    address = models.CharField("地址", max_length=160, blank=True)
    opening_days = models.JSONField("营业日(周一=1)", default=_all_days)
    capacity = models.PositiveIntegerField("每餐次供餐能力", default=100)
    connected_to_city = models.BooleanField("已接入全城通", default=True)
    wallet_approved = models.BooleanField("电子津贴定点服务商", default=True)
    licence_no = models.CharField("食品经营许可证号", max_length=40, blank=True)
    licence_expires = models.DateField("许可证有效期至", null=True, blank=True)
    second_meal = models.CharField("重复就餐处理", max_length=16, choices=SecondMealPolicy.as_choices(), blank=True,
                                   help_text="留空则按规则集")
    is_active = models.BooleanField("启用", default=True)

    class Meta:
        verbose_name = "助餐点"
        indexes = [models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="meals_point_area_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_local(self) -> bool:
        return self.region == YUHANG


class MealSlot(models.Model):
    point = models.ForeignKey(MealPoint, on_delete=models.CASCADE, related_name="slots")
    slot = models.CharField("餐次", max_length=16, choices=Slot.as_choices())
    starts = models.TimeField("开始")
    ends = models.TimeField("结束")
    price_fen = models.BigIntegerField("标准餐价(分)", default=0)

    class Meta:
        verbose_name = "餐次时段"
        constraints = [models.UniqueConstraint(fields=["point", "slot"], name="meals_slot_once_per_point")]


class PointTerminal(BaseModel):
    """A checkout terminal: one machine key bound to one point."""

    point = models.ForeignKey(MealPoint, on_delete=models.CASCADE, related_name="terminals")
    api_key = models.OneToOneField("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    label = models.CharField("终端名称", max_length=60, blank=True)

    class Meta:
        verbose_name = "结算终端"


class PointOperator(BaseModel):
    point = models.ForeignKey(MealPoint, on_delete=models.CASCADE, related_name="operators")
    staff = models.ForeignKey("accounts.Staff", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = "助餐点操作员"
        constraints = [models.UniqueConstraint(fields=["point", "staff"], name="meals_operator_once")]


class Diner(BaseModel):
    """A registered diner (就餐老人). Yuhang diners hang off the people registry; diners of other
    districts (``person`` empty) are known from the city system by ``external_ref``."""

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    person = models.OneToOneField("people.Person", on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+", verbose_name="人员档案")
    external_ref = models.CharField("全城通编号", max_length=64, blank=True)
    name_masked = models.CharField("姓名", max_length=32)
    birth_date = models.DateField("出生日期")
    home_region = models.CharField("登记区县", max_length=6, default=YUHANG)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name="居住村社")
    area_path = models.CharField(max_length=64, blank=True)
    status = models.CharField("状态", max_length=16, choices=DinerStatus.as_choices(), default=DinerStatus.PENDING)
    categories = models.JSONField("保障类别", default=list, blank=True)
    registered_by_id = models.BigIntegerField("登记人ID", null=True, blank=True)
    review_due = models.DateField("审核期限", null=True, blank=True)
    reviewed_by_id = models.BigIntegerField("审核人ID", null=True, blank=True)
    reviewed_at = models.DateTimeField("审核时间", null=True, blank=True)
    review_note = models.CharField("审核意见", max_length=200, blank=True)
    suspended_reason = models.CharField("暂停原因", max_length=200, blank=True)
    suspended_at = models.DateTimeField("暂停时间", null=True, blank=True)
    has_wallet = models.BooleanField("已开通电子津贴", default=False)
    absence_signalled_on = models.DateField("缺席提醒日期", null=True, blank=True)

    class Meta:
        verbose_name = "助餐对象"
        indexes = [
            models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="meals_diner_area_idx"),
            models.Index(fields=["status", "review_due"], name="meals_diner_review_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_ref"], condition=~Q(external_ref=""),
                                    name="meals_diner_external_once"),
            models.CheckConstraint(condition=Q(person__isnull=False) | ~Q(external_ref=""),
                                   name="meals_diner_person_or_external"),
        ]

    def __str__(self) -> str:
        return self.name_masked


class DinerCard(BaseModel):
    """A 市民卡 or 爱心卡 number: sealed (SM4-GCM) with a blind index for the card reader."""

    diner = models.ForeignKey(Diner, on_delete=models.CASCADE, related_name="cards")
    kind = models.CharField("卡类", max_length=16, choices=[(k.value, k.label) for k in CredentialKind
                                                          if k in ("citizen_card", "love_card")])
    sealed = models.BinaryField()
    bidx = models.BinaryField(max_length=32, unique=True)
    masked = models.CharField("卡号", max_length=32)
    active = models.BooleanField("有效", default=True)

    class Meta:
        verbose_name = "就餐卡"


class FaceEnrolment(BaseModel):
    """A face-enrolment reference issued by a terminal's face engine. No image is ever stored."""

    diner = models.ForeignKey(Diner, on_delete=models.CASCADE, related_name="faces")
    ref_bidx = models.BinaryField(max_length=32, unique=True)
    ref_masked = models.CharField("引用号", max_length=32)
    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+")
    terminal_key_id = models.BigIntegerField("登记终端", null=True)
    active = models.BooleanField("有效", default=True)

    class Meta:
        verbose_name = "人脸登记"


class DinerLeave(BaseModel):
    diner = models.ForeignKey(Diner, on_delete=models.CASCADE, related_name="leaves")
    kind = models.CharField("类型", max_length=16, choices=LeaveKind.as_choices())
    starts = models.DateField("开始")
    ends = models.DateField("结束", null=True, blank=True)
    note = models.CharField("说明", max_length=200, blank=True)
    created_by_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = "请假报备"
        indexes = [models.Index(fields=["diner", "starts"], name="meals_leave_diner_idx")]


class PricingRule(BaseModel):
    """An effective-dated rule set for a region; ``body`` is ``domain.RuleSet`` as JSON."""

    region = models.CharField("适用地区", max_length=6)
    version = models.CharField("版本", max_length=20)
    effective_from = models.DateField("生效日期")
    effective_to = models.DateField("失效日期", null=True, blank=True)
    status = models.CharField("状态", max_length=16, choices=RuleStatus.as_choices())
    payer_rule = models.CharField("付费方规则", max_length=20, choices=PayerRule.as_choices())
    source = models.CharField("依据", max_length=300, blank=True)
    body = models.JSONField("规则")
    created_by_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = "助餐优惠规则"
        constraints = [models.UniqueConstraint(fields=["region", "version"], name="meals_rule_version_once")]


class MealService(models.Model):
    """One meal served (助餐记录): the amounts of its split, who pays the public part, the trace.

    At most one *subsidised* meal per diner and slot, city-wide (A4): a partial UNIQUE index,
    claimed in the same transaction as the ledger posting. A void frees the slot again.
    """

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes: (point, idempotency_key), (point, service_date) and
    # (diner, service_date) lead with them, and a checkout then writes two index entries fewer.
    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+", db_index=False)
    diner = models.ForeignKey(Diner, on_delete=models.PROTECT, related_name="+", db_index=False)
    service_date = models.DateField("就餐日期")
    slot = models.CharField("餐次", max_length=16, choices=Slot.as_choices())
    occurred_at = models.DateTimeField("就餐时间")
    recorded_at = models.DateTimeField("入账时间", db_default=Now())
    price_fen = models.BigIntegerField("餐费")
    discount_fen = models.BigIntegerField("折扣")
    subsidy_fen = models.BigIntegerField("补贴")
    wallet_fen = models.BigIntegerField("电子津贴")
    self_pay_fen = models.BigIntegerField("自付")
    tenders = models.JSONField("自付方式", default=dict, blank=True)
    subsidised = models.BooleanField("享受优惠")
    status = models.CharField("状态", max_length=12, choices=MealStatus.as_choices(), default=MealStatus.SERVED)
    idempotency_key = models.CharField("幂等键", max_length=100)
    request_digest = models.BinaryField(max_length=32)
    ledger_key = models.CharField("记账键", max_length=200, blank=True)
    payer = models.CharField("付费方", max_length=8)
    home_region = models.CharField("登记区县", max_length=6)
    canteen_region = models.CharField("就餐区县", max_length=6)
    rule_ref = models.CharField("规则", max_length=40, blank=True)
    band = models.CharField("年龄段", max_length=16, blank=True)
    age = models.PositiveSmallIntegerField("年龄")
    credential = models.CharField("识别方式", max_length=16, choices=CredentialKind.as_choices())
    channel = models.CharField("渠道", max_length=12, choices=Channel.as_choices())
    terminal_key_id = models.BigIntegerField("终端", null=True, blank=True)
    operator_id = models.BigIntegerField("操作员", null=True, blank=True)
    trace = models.JSONField("计价明细", default=list, blank=True)
    void_reason = models.CharField("冲正原因", max_length=200, blank=True)
    voided_at = models.DateTimeField("冲正时间", null=True, blank=True)
    voided_by_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "助餐记录"
        constraints = [
            models.UniqueConstraint(fields=["point", "idempotency_key"], name="meals_meal_key_once"),
            models.UniqueConstraint(
                fields=["diner", "service_date", "slot"],
                condition=Q(subsidised=True, status=MealStatus.SERVED),
                name="meals_one_subsidised_meal_per_slot",
            ),
            models.CheckConstraint(
                condition=Q(price_fen__gte=0, discount_fen__gte=0, subsidy_fen__gte=0, wallet_fen__gte=0,
                            self_pay_fen__gte=0),
                name="meals_meal_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(price_fen=models.F("discount_fen") + models.F("subsidy_fen") + models.F("wallet_fen")
                            + models.F("self_pay_fen")),
                name="meals_meal_split_adds_up",
            ),
        ]
        indexes = [
            models.Index(fields=["point", "service_date"], name="meals_meal_point_day_idx"),
            models.Index(fields=["service_date", "slot"], name="meals_meal_day_slot_idx"),
            models.Index(fields=["diner", "service_date"], name="meals_meal_diner_day_idx"),
        ]

    @property
    def benefit_fen(self) -> int:
        return self.discount_fen + self.subsidy_fen


class WalletGrant(BaseModel):
    """A grant of 电子津贴 into a diner's wallet: spendable at approved providers until it expires."""

    diner = models.ForeignKey(Diner, on_delete=models.PROTECT, related_name="grants")
    amount_fen = models.BigIntegerField("金额")
    program = models.CharField("项目", max_length=60, default="养老服务电子津贴")
    granted_on = models.DateField("发放日期")
    expires_on = models.DateField("有效期至")
    ledger_key = models.CharField(max_length=200, unique=True)
    expired_fen = models.BigIntegerField("到期收回", default=0)
    clawed_fen = models.BigIntegerField("追回", default=0)
    closed = models.BooleanField("已结束", default=False)
    created_by_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = "电子津贴发放"
        constraints = [models.CheckConstraint(condition=Q(amount_fen__gt=0), name="meals_grant_positive")]


class TerminalReport(BaseModel):
    """A terminal's own totals for a day (日结), compared with the ledger by reconciliation."""

    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+")
    service_date = models.DateField("日期")
    meals = models.IntegerField("笔数")
    price_fen = models.BigIntegerField("餐费")
    benefit_fen = models.BigIntegerField("优惠补贴")
    wallet_fen = models.BigIntegerField("电子津贴")
    self_pay_fen = models.BigIntegerField("自付")
    terminal_key_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = "终端日结"
        constraints = [models.UniqueConstraint(fields=["point", "service_date"], name="meals_report_once")]


class Reconciliation(BaseModel):
    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+")
    service_date = models.DateField("日期")
    ok = models.BooleanField("一致")
    records = models.JSONField("平台记录", default=dict)
    ledger = models.JSONField("账本", default=dict)
    terminal = models.JSONField("终端", default=dict)

    class Meta:
        verbose_name = "日对账"
        constraints = [models.UniqueConstraint(fields=["point", "service_date"], name="meals_recon_once")]


class ReconException(BaseModel):
    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+")
    service_date = models.DateField("日期")
    kind = models.CharField("类型", max_length=24, choices=ExceptionKind.as_choices())
    source = models.CharField("比对", max_length=24)  # terminal_vs_ledger | records_vs_ledger
    field = models.CharField("项目", max_length=24)
    expected = models.BigIntegerField("终端/记录")
    actual = models.BigIntegerField("账本")
    status = models.CharField("状态", max_length=12, choices=ExceptionStatus.as_choices(), default=ExceptionStatus.OPEN)
    resolved_by_id = models.BigIntegerField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField("处理说明", max_length=200, blank=True)

    class Meta:
        verbose_name = "对账异常"
        indexes = [models.Index(fields=["status", "service_date"], name="meals_exc_status_idx")]


class OperatorClaim(BaseModel):
    """An operator's monthly claim: operator → 街道 review → 区 approval → payment file → paid."""

    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, related_name="+")
    month = models.DateField("月份")  # the first day of the month
    meals = models.IntegerField("餐数")
    price_fen = models.BigIntegerField("餐费")
    benefit_fen = models.BigIntegerField("优惠补贴")
    wallet_fen = models.BigIntegerField("电子津贴")
    self_pay_fen = models.BigIntegerField("自付")
    claim_fen = models.BigIntegerField("申请金额")  # benefit + wallet (self-pay stays with the operator)
    operating_subsidy_fen = models.BigIntegerField("运营补贴", default=0)
    explanation = models.JSONField("计算说明", default=list)
    status = models.CharField("状态", max_length=20, choices=ClaimStatus.as_choices(), default=ClaimStatus.SUBMITTED)
    submitted_by_id = models.BigIntegerField(null=True)
    township_by_id = models.BigIntegerField(null=True, blank=True)
    township_at = models.DateTimeField(null=True, blank=True)
    district_by_id = models.BigIntegerField(null=True, blank=True)
    district_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField("意见", max_length=200, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_ledger_key = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "运营方月度结算申请"
        constraints = [
            models.UniqueConstraint(fields=["point", "month"], condition=~Q(status=ClaimStatus.REJECTED),
                                    name="meals_claim_once_per_month"),
        ]


class ClearingStatement(BaseModel):
    """Monthly cross-district clearing (全城通吃): who owes whom under a payer rule."""

    month = models.DateField("月份")
    payer_rule = models.CharField("付费方规则", max_length=20, choices=PayerRule.as_choices())
    flows = models.JSONField("往来")
    settlements = models.JSONField("轧差结果")
    ledger_agrees = models.BooleanField("与账本一致")
    ledger_check = models.JSONField("账本核对", default=dict)
    created_by_id = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = "跨区清算单"


class FraudFlag(BaseModel):
    diner = models.ForeignKey(Diner, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField("类型", max_length=20, choices=FlagKind.as_choices())
    meal = models.ForeignKey(MealService, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    other_meal = models.ForeignKey(MealService, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    point = models.ForeignKey(MealPoint, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    detail = models.CharField("说明", max_length=300)
    status = models.CharField("状态", max_length=12, choices=ExceptionStatus.as_choices(), default=ExceptionStatus.OPEN)
    dedup_key = models.CharField(max_length=120, unique=True)

    class Meta:
        verbose_name = "异常就餐预警"


class InteropPeer(BaseModel):
    """Another district's system (or the city hub, region 3301) and the key it calls us with."""

    region = models.CharField("区县代码", max_length=6, unique=True)
    name = models.CharField("名称", max_length=60)
    api_key = models.OneToOneField("accounts.ApiKey", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = "全城通对接方"


class InteropMessage(BaseModel):
    """Every 全城通 exchange, deduplicated by the peer's key (meal reports, statements)."""

    peer_region = models.CharField("对方区县", max_length=6)
    direction = models.CharField("方向", max_length=8)  # in | out
    kind = models.CharField("类型", max_length=24)
    key = models.CharField("幂等键", max_length=120)
    body = models.JSONField(default=dict)
    result = models.JSONField(default=dict)

    class Meta:
        verbose_name = "全城通报文"
        constraints = [models.UniqueConstraint(fields=["peer_region", "direction", "key"], name="meals_interop_once")]
