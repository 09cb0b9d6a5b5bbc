"""安居守护 records: homes with their kits, devices and gateways; raw events and the latest state;
alarms, incidents with their timeline, maintenance tickets; baselines and early-warning scores.

Every home carries the division path of the elder's community (``area_path``), like
``people.Person``, so every read is cut to the actor's area by a prefix test.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from minzheng.core.models import BaseModel
from minzheng.safety.enums import (
    AlarmState,
    AlarmType,
    Channel,
    DeviceKind,
    DeviceStatus,
    DispatchTarget,
    EventType,
    HomeStatus,
    IncidentAction,
    IncidentState,
    KitStatus,
    NotificationChannel,
    Outcome,
    RejectReason,
    Severity,
    TicketKind,
    TicketState,
)

PATTERN_OPS = ["varchar_pattern_ops"]


class AlarmRule(BaseModel):
    """Rules as data: one row per alarm type and version, with its parameters and their source.

    The rule in force for a type is its latest row with ``effective_from`` on or before today; a
    home may override parameters (``Home.rule_overrides``). Alarms record the version they used.
    """

    alarm_type = models.CharField("告警类型", max_length=24, choices=AlarmType.as_choices())
    enabled = models.BooleanField("启用", default=True)
    severity = models.CharField("级别", max_length=12, choices=Severity.as_choices())
    params = models.JSONField("参数", default=dict, blank=True)
    effective_from = models.DateField("生效日期")
    source = models.CharField("依据", max_length=300, blank=True)

    class Meta:
        verbose_name = "告警规则"
        constraints = [
            models.UniqueConstraint(fields=["alarm_type", "effective_from"], name="safety_rule_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_alarm_type_display()} ({self.effective_from})"


class Home(BaseModel):
    """A monitored home: one elder living alone, in one community."""

    uid = models.UUIDField("编号", default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField("户编号", max_length=32, unique=True)
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", verbose_name="老人")
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+", verbose_name="所在村社")
    area_path = models.CharField(max_length=64)
    status = models.CharField("状态", max_length=12, choices=HomeStatus.as_choices(), default=HomeStatus.NORMAL)
    status_until = models.DateTimeField("状态截止", null=True, blank=True)
    status_note = models.CharField("状态说明", max_length=200, blank=True)
    lat = models.FloatField("纬度", null=True, blank=True)
    lon = models.FloatField("经度", null=True, blank=True)
    rule_overrides = models.JSONField("个性化参数", default=dict, blank=True)

    class Meta:
        verbose_name = "监护家庭"
        indexes = [models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="safety_home_area_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["person"], condition=~Q(status=HomeStatus.INACTIVE), name="safety_home_one_live_per_person"
            )
        ]

    def __str__(self) -> str:
        return self.code


class HomeContact(models.Model):
    """Family and other emergency contacts, in the order they are called."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField("姓名", max_length=64)
    relation = models.CharField("关系", max_length=32)
    phone_sealed = models.BinaryField("电话(密文)")
    phone_masked = models.CharField("电话", max_length=16)
    priority = models.PositiveSmallIntegerField("顺序", default=1)

    class Meta:
        verbose_name = "紧急联系人"
        ordering = ["priority", "id"]


class Kit(BaseModel):
    """The "3+X" kit installed in a home: door contact, PIR, SOS button, plus options."""

    home = models.OneToOneField(Home, on_delete=models.PROTECT, related_name="kit")
    code = models.CharField("套件编号", max_length=32, unique=True)
    status = models.CharField("状态", max_length=12, choices=KitStatus.as_choices(), default=KitStatus.ACTIVE)
    installed_on = models.DateField("安装日期")
    deactivated_at = models.DateTimeField("停用时间", null=True, blank=True)
    deactivation_reason = models.CharField("停用原因", max_length=200, blank=True)

    class Meta:
        verbose_name = "设备套件"


class Gateway(BaseModel):
    """A home's gateway. Over HTTP it authenticates with its API key; over MQTT its code is the
    topic level ``minzheng/safety/<code>/up`` (the broker's ACL binds client and topic)."""

    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, related_name="gateways")
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="gateways")
    code = models.CharField("网关编号", max_length=32, unique=True)
    api_key = models.OneToOneField(
        "accounts.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name="接口密钥"
    )
    last_seen_at = models.DateTimeField("最近通信", null=True, blank=True)

    class Meta:
        verbose_name = "网关"


class Device(BaseModel):
    """A sensor, with its latest state (highest sequence number wins: nothing goes backwards)."""

    kit = models.ForeignKey(Kit, on_delete=models.PROTECT, related_name="devices")
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="devices")
    serial = models.CharField("设备编号", max_length=64, unique=True)
    kind = models.CharField("类型", max_length=16, choices=DeviceKind.as_choices())
    place = models.CharField("安装位置", max_length=32, blank=True)
    status = models.CharField("状态", max_length=12, choices=DeviceStatus.as_choices(), default=DeviceStatus.ACTIVE)
    last_seq = models.BigIntegerField("最新序号", null=True, blank=True)
    last_event_at = models.DateTimeField("最新读数时间", null=True, blank=True)
    last_type = models.CharField("最新读数类型", max_length=16, blank=True)
    last_value = models.JSONField("最新读数", null=True, blank=True)
    last_seen_at = models.DateTimeField("最近通信", null=True, blank=True)
    battery_pct = models.PositiveSmallIntegerField("电量", null=True, blank=True)
    low_battery = models.BooleanField("电量低", default=False)
    online = models.BooleanField("在线", default=True)
    offline_due_at = models.DateTimeField("离线判定时间", null=True, blank=True)

    class Meta:
        verbose_name = "设备"
        # No index on the columns every reading rewrites (last_seen_at, offline_due_at): the row is
        # then updated in place (PostgreSQL HOT update, with the fillfactor set in the migrations),
        # and the scheduler's offline scan is a sequential scan of a small table.

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serial}"


class HomeState(models.Model):
    """Latest state of a home and the persisted memory of its rules (``domain.HomeRuleState``)."""

    home = models.OneToOneField(Home, on_delete=models.CASCADE, primary_key=True, related_name="state")
    area_path = models.CharField(max_length=64)
    last_activity_at = models.DateTimeField("最近活动", null=True)
    last_motion_at = models.DateTimeField(null=True)
    last_door_at = models.DateTimeField("最近开关门", null=True)
    returned_at = models.DateTimeField(null=True)
    stray_motion_at = models.DateTimeField(null=True)
    sensor_seen_at = models.DateTimeField(null=True)
    sensing_resumed_at = models.DateTimeField(null=True)
    last_water_at = models.DateTimeField("最近用水", null=True)
    water_run_start = models.DateTimeField(null=True)
    water_seen_at = models.DateTimeField(null=True)
    water_resumed_at = models.DateTimeField(null=True)
    last_lat = models.FloatField(null=True)
    last_lon = models.FloatField(null=True)
    last_location_at = models.DateTimeField(null=True)
    outside_since = models.DateTimeField(null=True)
    alarm_in_gap = models.BooleanField(default=False)
    active_alarms = models.JSONField(default=list)
    gap_hist = models.JSONField(default=dict)
    thresholds = models.JSONField(null=True)
    thresholds_day = models.IntegerField(null=True)
    next_check_at = models.DateTimeField("下次检查", null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "家庭实时状态"
        # No index on next_check_at: every reading moves it; the scheduler's scan of one row per
        # home is cheap, and the rows are updated in place (HOT) instead.


class RawEvent(models.Model):
    """A raw reading, exactly once per (device, seq) by a UNIQUE constraint; purged after the
    retention (``SAFETY_RAW_RETENTION_DAYS``) while hourly aggregates stay."""

    id = models.BigAutoField(primary_key=True)
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+", db_index=False)  # UNIQUE below
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="+", db_index=False)
    seq = models.BigIntegerField()
    type = models.CharField(max_length=16, choices=EventType.as_choices())
    value = models.JSONField(null=True)
    device_ts = models.DateTimeField()
    received_at = models.DateTimeField()
    channel = models.CharField(max_length=8, choices=Channel.as_choices())

    class Meta:
        verbose_name = "原始读数"
        constraints = [models.UniqueConstraint(fields=["device", "seq"], name="safety_rawevent_once")]
        # Few indexes: every one costs on the ingestion hot path. Reads by home go to ActivityHourly.
        indexes = [models.Index(fields=["received_at"], name="safety_raw_received_idx")]


class IngestRejection(models.Model):
    """A message refused at ingestion, with the reason (the counter is ``IngestCounter``)."""

    at = models.DateTimeField(db_index=True)
    channel = models.CharField(max_length=8, choices=Channel.as_choices())
    gateway = models.CharField("网关", max_length=64, blank=True)
    device_serial = models.CharField("设备编号", max_length=64, blank=True)
    seq = models.BigIntegerField(null=True)
    reason = models.CharField("原因", max_length=24, choices=RejectReason.as_choices())
    detail = models.CharField("说明", max_length=200, blank=True)
    excerpt = models.CharField("报文摘录", max_length=300, blank=True)

    class Meta:
        verbose_name = "拒收记录"
        indexes = [models.Index(fields=["reason", "at"], name="safety_reject_reason_idx")]


class IngestCounter(models.Model):
    """Per day and channel: accepted, duplicate and ``rejected:<reason>`` message counts."""

    day = models.DateField()
    channel = models.CharField(max_length=8, choices=Channel.as_choices())
    name = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "接入计数"
        constraints = [models.UniqueConstraint(fields=["day", "channel", "name"], name="safety_counter_unique")]


class ActivityHourly(models.Model):
    """Hourly activity per home, kept long after the raw events (chart, baseline, scores)."""

    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="+")
    hour = models.DateTimeField()
    motion = models.IntegerField(default=0)
    door = models.IntegerField(default=0)
    water_l = models.FloatField(default=0)
    events = models.IntegerField(default=0)

    class Meta:
        verbose_name = "每小时活动"
        constraints = [models.UniqueConstraint(fields=["home", "hour"], name="safety_hourly_unique")]


class Alarm(BaseModel):
    """The machine signal: at most one active alarm per home and type; a repeat updates it."""

    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="alarms")
    alarm_type = models.CharField("类型", max_length=24, choices=AlarmType.as_choices())
    severity = models.CharField("级别", max_length=12, choices=Severity.as_choices())
    state = models.CharField("状态", max_length=12, choices=AlarmState.as_choices(), default=AlarmState.ACTIVE)
    first_seen_at = models.DateTimeField("发生时间")
    raised_at = models.DateTimeField("告警时间")
    last_seen_at = models.DateTimeField("最近一次")
    count = models.PositiveIntegerField("次数", default=1)
    details = models.JSONField("依据", default=dict)
    cleared_at = models.DateTimeField("恢复时间", null=True, blank=True)
    clear_reason = models.CharField("恢复原因", max_length=100, blank=True)
    incident = models.ForeignKey("Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="alarms")

    class Meta:
        verbose_name = "告警"
        constraints = [
            models.UniqueConstraint(
                fields=["home", "alarm_type"], condition=Q(state=AlarmState.ACTIVE), name="safety_alarm_one_active"
            )
        ]
        indexes = [models.Index(fields=["home", "alarm_type", "raised_at"], name="safety_alarm_home_type_idx")]


class Incident(BaseModel):
    """The human closed loop (处置工单): new → acknowledged → verifying → dispatched → on site →
    resolved → follow-up → closed, with reopen; a persisted deadline drives escalation."""

    code = models.CharField("工单号", max_length=32, unique=True)
    home = models.ForeignKey(Home, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents")
    person = models.ForeignKey("people.Person", on_delete=models.PROTECT, related_name="+", verbose_name="老人")
    division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=64)
    alarm_type = models.CharField("类型", max_length=24, choices=AlarmType.as_choices())
    severity = models.CharField("级别", max_length=12, choices=Severity.as_choices())
    state = models.CharField("状态", max_length=16, choices=IncidentState.as_choices(), default=IncidentState.NEW)
    title = models.CharField("标题", max_length=120)
    source = models.CharField("来源", max_length=32, default="alarm")
    opened_at = models.DateTimeField("生成时间")
    acked_at = models.DateTimeField("接警时间", null=True, blank=True)
    acked_by = models.ForeignKey("accounts.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    verifying_at = models.DateTimeField("核实时间", null=True, blank=True)
    dispatched_at = models.DateTimeField("派单时间", null=True, blank=True)
    dispatch_target = models.CharField("派单对象", max_length=20, choices=DispatchTarget.as_choices(), blank=True)
    assignee = models.ForeignKey(
        "accounts.Staff", on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name="处置人"
    )
    on_site_at = models.DateTimeField("到场时间", null=True, blank=True)
    resolved_at = models.DateTimeField("处置时间", null=True, blank=True)
    outcome = models.CharField("处置结果", max_length=24, choices=Outcome.as_choices(), blank=True)
    outcome_note = models.CharField("结果说明", max_length=500, blank=True)
    follow_up_at = models.DateTimeField("回访时间", null=True, blank=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField("重开次数", default=0)
    policy = models.JSONField("时限策略", default=dict)
    escalation_level = models.PositiveSmallIntegerField("升级层级", default=0)
    escalations = models.PositiveSmallIntegerField("升级次数", default=0)
    breaches = models.PositiveSmallIntegerField("超时次数", default=0)
    deadline_state = models.CharField(max_length=16, blank=True)
    next_deadline_at = models.DateTimeField("时限", null=True, blank=True)

    class Meta:
        verbose_name = "处置工单"
        indexes = [
            models.Index(fields=["area_path"], opclasses=PATTERN_OPS, name="safety_incident_area_idx"),
            models.Index(fields=["state", "severity"], name="safety_incident_state_idx"),
            models.Index(fields=["next_deadline_at"], name="safety_incident_deadline_idx"),
            models.Index(fields=["home", "alarm_type", "state"], name="safety_incident_dedup_idx"),
            models.Index(fields=["opened_at"], name="safety_incident_opened_idx"),
        ]

    def __str__(self) -> str:
        return self.code


class IncidentEntry(models.Model):
    """The timeline: who did what, when, from which state to which."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="entries")
    at = models.DateTimeField("时间")
    action = models.CharField("动作", max_length=16, choices=IncidentAction.as_choices())
    actor_id = models.BigIntegerField("操作人ID", null=True)
    actor_name = models.CharField("操作人", max_length=150, blank=True)
    state_from = models.CharField(max_length=16, blank=True)
    state_to = models.CharField(max_length=16, blank=True)
    note = models.CharField("说明", max_length=500, blank=True)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = "工单记录"
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at"], name="safety_entry_incident_idx")]


class Notification(models.Model):
    """Outbox of notices (SMS, voice call, workbench push) that an escalation or opening sends."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField()
    level = models.PositiveSmallIntegerField(default=0)
    target_kind = models.CharField(max_length=16)  # "division" | "family" | "assignee"
    target_division = models.ForeignKey("divisions.Division", on_delete=models.PROTECT, null=True, related_name="+")
    contact = models.ForeignKey(HomeContact, on_delete=models.SET_NULL, null=True, related_name="+")
    target_label = models.CharField(max_length=100)
    channel = models.CharField(max_length=8, choices=NotificationChannel.as_choices())
    message = models.CharField(max_length=300)
    sent_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = "通知"
        indexes = [models.Index(fields=["sent_at", "created_at"], name="safety_notice_outbox_idx")]


class MaintenanceTicket(BaseModel):
    """A repair job for a device (offline, low battery, tamper): one open per device and kind."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="tickets")
    home = models.ForeignKey(Home, on_delete=models.PROTECT, related_name="tickets")
    area_path = models.CharField(max_length=64)
    kind = models.CharField("类型", max_length=16, choices=TicketKind.as_choices())
    state = models.CharField("状态", max_length=12, choices=TicketState.as_choices(), default=TicketState.OPEN)
    opened_at = models.DateTimeField("报修时间")
    closed_at = models.DateTimeField("完成时间", null=True, blank=True)
    note = models.CharField("说明", max_length=300, blank=True)

    class Meta:
        verbose_name = "维护工单"
        constraints = [
            models.UniqueConstraint(
                fields=["device", "kind"], condition=Q(state=TicketState.OPEN), name="safety_ticket_one_open"
            )
        ]


class HomeBaseline(models.Model):
    """A home's learned normal: hourly activity profile and inactivity thresholds per start hour."""

    home = models.OneToOneField(Home, on_delete=models.CASCADE, primary_key=True, related_name="baseline")
    computed_at = models.DateTimeField()
    days = models.PositiveSmallIntegerField()
    profile = models.JSONField(default=dict)
    thresholds = models.JSONField(null=True)
    # The home's silence history older than the last few days (HomeState keeps those, small, on
    # the hot path): local day → 24 longest silences by start hour + the morning rise.
    gap_history = models.JSONField(default=dict)

    class Meta:
        verbose_name = "活动基线"


class DailyScore(models.Model):
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    activity = models.IntegerField(default=0)

    class Meta:
        verbose_name = "每日异常分"
        constraints = [models.UniqueConstraint(fields=["home", "day"], name="safety_score_unique")]


class WeeklyRisk(models.Model):
    week_start = models.DateField()
    home = models.ForeignKey(Home, on_delete=models.CASCADE, related_name="+")
    area_path = models.CharField(max_length=64)
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "每周风险名单"
        constraints = [models.UniqueConstraint(fields=["week_start", "home"], name="safety_risk_unique")]


class JobRun(models.Model):
    """When a periodic job last ran (so a restarted scheduler neither skips nor repeats it)."""

    name = models.CharField(max_length=40, unique=True)
    last_key = models.CharField(max_length=40)
    ran_at = models.DateTimeField()
