from __future__ import annotations

import uuid
from datetime import date

from django.db import models

from minzheng.core.models import BaseModel
from minzheng.people.enums import (
    DisabilityCategory,
    Gender,
    GrantStatus,
    HealthFlag,
    LivingArrangement,
    PersonStatus,
    Relation,
    SelfCare,
)

PATTERN_OPS = ["varchar_pattern_ops"]  # prefix LIKE on PostgreSQL; ignored by SQLite


class Household(BaseModel):
    """A registered household (户): members hang off it with their relation to the head."""

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, verbose_name="所在村社")
    area_path = models.CharField(max_length=64)
    address_sealed = models.BinaryField("地址(密文)", null=True)
    address_masked = models.CharField("地址", max_length=160, blank=True)

    class Meta:
        verbose_name = "家庭户"
        indexes = [models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="people_hh_area_idx")]

    def __str__(self) -> str:
        return f"户 {str(self.uid)[:8]}"


class Person(BaseModel):
    """一人一档: one file per resident that every domain hangs its records on.

    Identity numbers, phones and the street address are sealed (SM4-GCM) with a keyed blind index
    for exact lookup; screens only ever get the masked forms (security DP-1, DP-2).
    """

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField("姓名", max_length=64)
    name_initials = models.CharField("拼音首字母", max_length=32)
    gender = models.CharField("性别", max_length=1, choices=Gender.as_choices())
    birth_date = models.DateField("出生日期")
    id_sealed = models.BinaryField("身份证号(密文)")
    id_bidx = models.BinaryField("身份证号索引", max_length=32, unique=True)
    id_masked = models.CharField("身份证号", max_length=18)
    hukou_region = models.CharField("户籍地区码", max_length=6, blank=True)
    hukou_division = models.ForeignKey(
        "divisions.Division", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="户籍村社"
    )
    hukou_in_zhejiang = models.BooleanField("浙江户籍", default=False)
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+", verbose_name="居住村社")
    area_path = models.CharField(max_length=64)
    address_sealed = models.BinaryField("居住地址(密文)", null=True)
    address_masked = models.CharField("居住地址", max_length=160, blank=True)
    household = models.ForeignKey(Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="members")
    relation_to_head = models.CharField("与户主关系", max_length=16, choices=Relation.as_choices(), blank=True)
    living_arrangement = models.CharField("居住状况", max_length=16, choices=LivingArrangement.as_choices(), default=LivingArrangement.WITH_FAMILY)
    disability_category = models.CharField("残疾类别", max_length=16, choices=DisabilityCategory.as_choices(), blank=True)
    disability_grade = models.PositiveSmallIntegerField("残疾等级", null=True, blank=True)
    self_care = models.CharField("自理能力", max_length=16, choices=SelfCare.as_choices(), default=SelfCare.INDEPENDENT)
    health_flags = models.JSONField("健康标记", default=list, blank=True)
    tags = models.JSONField("标签", default=list, blank=True)
    status = models.CharField("状态", max_length=16, choices=PersonStatus.as_choices(), default=PersonStatus.ACTIVE)
    deceased_on = models.DateField("死亡日期", null=True, blank=True)
    moved_out_on = models.DateField("迁出日期", null=True, blank=True)

    class Meta:
        verbose_name = "人员"
        indexes = [
            models.Index(fields=["area_path", "name"], opclasses=PATTERN_OPS * 2, name="people_person_area_name_idx"),
            models.Index(fields=["name"], opclasses=PATTERN_OPS, name="people_person_name_idx"),
            models.Index(fields=["name_initials"], opclasses=PATTERN_OPS, name="people_person_initials_idx"),
            models.Index(fields=["birth_date"], name="people_person_birth_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def age_on(self, day: date) -> int:
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    @property
    def health_flag_labels(self) -> list[str]:
        labels = dict(HealthFlag.as_choices())
        return [labels.get(f, f) for f in self.health_flags]

    @property
    def is_minor(self) -> bool:
        return self.age_on(date.today()) < 18  # noqa: DTZ011


class PersonPhone(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    label = models.CharField("类型", max_length=16, default="本人")
    sealed = models.BinaryField()
    bidx = models.BinaryField(max_length=32, db_index=True)
    masked = models.CharField("号码", max_length=16)
    tail = models.CharField("尾号", max_length=4, db_index=True)

    class Meta:
        verbose_name = "联系电话"
        constraints = [models.UniqueConstraint(fields=["person", "bidx"], name="people_phone_once_per_person")]


class MinorAccessGrant(BaseModel):
    """Approval to open a minor's record (未成年人网络保护条例; security AC-4, A16).

    Staff refer to accounts by id and name only: people and accounts are sibling apps.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="minor_grants")
    requested_by_id = models.BigIntegerField("申请人ID")
    requested_by_name = models.CharField("申请人", max_length=150)
    reason = models.CharField("申请理由", max_length=200)
    status = models.CharField("状态", max_length=16, choices=GrantStatus.as_choices(), default=GrantStatus.PENDING)
    decided_by_id = models.BigIntegerField("审批人ID", null=True, blank=True)
    decided_by_name = models.CharField("审批人", max_length=150, blank=True)
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    expires_at = models.DateTimeField("有效期至", null=True, blank=True)

    class Meta:
        verbose_name = "未成年人档案查阅审批"
        indexes = [models.Index(fields=["requested_by_id", "person"], name="people_minor_grant_idx")]


class ExportApproval(BaseModel):
    """A second person's approval of one bulk export of the person list (security AC-5, A13).

    Bound to the requester and to the exact criteria (``criteria`` and its ``fingerprint``); valid
    for one export (``used_at``) within EXPORT_APPROVAL_HOURS of the decision, and for at most
    ``row_count`` rows. ``scope_path`` is the requester's area: approvers see requests inside theirs.
    """

    requested_by_id = models.BigIntegerField("申请人ID")
    requested_by_name = models.CharField("申请人", max_length=150)
    scope_path = models.CharField("申请人数据范围", max_length=64)
    criteria = models.JSONField("导出条件", default=dict)
    fingerprint = models.CharField("条件摘要", max_length=64)
    description = models.CharField("导出条件说明", max_length=300)
    row_count = models.PositiveIntegerField("申请时条数")
    reason = models.CharField("申请理由", max_length=200)
    status = models.CharField("状态", max_length=16, choices=GrantStatus.as_choices(), default=GrantStatus.PENDING)
    decided_by_id = models.BigIntegerField("审批人ID", null=True, blank=True)
    decided_by_name = models.CharField("审批人", max_length=150, blank=True)
    decided_at = models.DateTimeField("审批时间", null=True, blank=True)
    expires_at = models.DateTimeField("有效期至", null=True, blank=True)
    used_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = "批量导出审批"
        indexes = [models.Index(fields=["requested_by_id", "fingerprint"], name="people_export_appr_idx")]


class ExportRecord(models.Model):
    """One export of the person list and its row count: the per-person daily cap (AC-5) is one
    SUM over these rows. Append-only in practice; nothing edits or deletes them."""

    exported_by_id = models.BigIntegerField("导出人ID")
    exported_by_name = models.CharField("导出人", max_length=150)
    at = models.DateTimeField("导出时间")
    rows = models.PositiveIntegerField("条数")
    approval = models.ForeignKey(ExportApproval, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="exports", verbose_name="审批")

    class Meta:
        verbose_name = "人员导出记录"
        indexes = [models.Index(fields=["exported_by_id", "at"], name="people_export_rec_idx")]
