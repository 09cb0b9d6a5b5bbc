"""Vocabulary of 安居守护 (sensor monitoring of elders living alone). Pure: no Django."""

from __future__ import annotations

from minzheng.core.choices import LabelledEnum


class DeviceKind(LabelledEnum):
    DOOR_CONTACT = "door_contact", "门磁"
    PIR = "pir", "红外人体感应"
    SOS_BUTTON = "sos_button", "紧急呼叫按钮"
    WATCH = "watch", "定位手表"
    WATER_METER = "water_meter", "智能水表"
    SMOKE_GAS = "smoke_gas", "烟感/燃气报警器"


class EventType(LabelledEnum):
    """What a device reports. ``value`` is normalised by ``domain.parse_message``."""

    MOTION = "motion", "有人活动"
    DOOR = "door", "门开合"
    SOS = "sos", "紧急呼叫"
    FALL = "fall", "跌倒报警"
    WATER = "water", "用水量"
    LOCATION = "location", "位置"
    HEARTBEAT = "heartbeat", "心跳"
    BATTERY = "battery", "电量"
    SMOKE = "smoke", "烟雾报警"
    GAS = "gas", "燃气泄漏"
    TAMPER = "tamper", "拆除/摘下"


class HomeStatus(LabelledEnum):
    NORMAL = "normal", "在家"
    AWAY = "away", "外出报备"
    HOSPITAL = "hospital", "住院"
    INACTIVE = "inactive", "已停止服务"


class KitStatus(LabelledEnum):
    ACTIVE = "active", "在用"
    DEACTIVATED = "deactivated", "已停用"


class DeviceStatus(LabelledEnum):
    ACTIVE = "active", "在用"
    RETIRED = "retired", "已拆除"


class AlarmType(LabelledEnum):
    SOS = "sos", "紧急呼叫"
    FALL = "fall", "跌倒"
    SMOKE = "smoke", "烟雾报警"
    GAS = "gas", "燃气泄漏"
    INACTIVITY = "inactivity", "长时间无活动"
    NIGHT_EXIT = "night_exit", "夜间出门未归"
    WANDER = "wander", "离开安全区域"
    WATER_NONE = "water_none", "长时间未用水"
    WATER_LEAK = "water_leak", "持续用水(疑似漏水)"
    DEVICE_OFFLINE = "device_offline", "设备离线"
    CARE_CHECK = "care_check", "关爱核查"


class Severity(LabelledEnum):
    CRITICAL = "critical", "紧急"
    MAJOR = "major", "重要"
    MINOR = "minor", "一般"
    LOW = "low", "关注"
    WARNING = "warning", "设备提示"


SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.LOW: 3, Severity.WARNING: 4}


class AlarmState(LabelledEnum):
    ACTIVE = "active", "告警中"
    CLEARED = "cleared", "已恢复"


class IncidentState(LabelledEnum):
    NEW = "new", "待接警"
    ACKNOWLEDGED = "acknowledged", "已接警"
    VERIFYING = "verifying", "核实中"
    DISPATCHED = "dispatched", "已派单"
    ON_SITE = "on_site", "已到场"
    RESOLVED = "resolved", "已处置"
    FOLLOW_UP = "follow_up", "回访中"
    CLOSED = "closed", "已办结"


OPEN_STATES = frozenset(
    {
        IncidentState.NEW,
        IncidentState.ACKNOWLEDGED,
        IncidentState.VERIFYING,
        IncidentState.DISPATCHED,
        IncidentState.ON_SITE,
    }
)
NOT_CLOSED_STATES = OPEN_STATES | {IncidentState.RESOLVED, IncidentState.FOLLOW_UP}


class IncidentAction(LabelledEnum):
    OPEN = "open", "生成工单"
    ACKNOWLEDGE = "acknowledge", "接警"
    VERIFY = "verify", "开始核实"
    CALL = "call", "电话联系"
    DISPATCH = "dispatch", "派单"
    ARRIVE = "arrive", "到场"
    RESOLVE = "resolve", "处置完毕"
    FOLLOW_UP = "follow_up", "开始回访"
    CLOSE = "close", "办结"
    REOPEN = "reopen", "重新打开"
    NOTE = "note", "备注"
    ESCALATE = "escalate", "超时升级"
    NOTIFY = "notify", "通知"
    REPEAT = "repeat", "告警重复"
    ALARM_CLEARED = "alarm_cleared", "告警条件解除"
    ADMIN_CLOSE = "admin_close", "系统关闭"


class Outcome(LabelledEnum):
    """How an incident ended. The ``false_alarm_*`` codes say why it was a false alarm."""

    ASSISTED = "assisted", "已协助处置"
    HOSPITALISED = "hospitalised", "已送医"
    EMERGENCY_SERVICES = "emergency_services", "已报警110/120"
    DECEASED = "deceased", "发现死亡"
    FALSE_ALARM_DEVICE = "false_alarm_device", "误报:设备故障"
    FALSE_ALARM_ROUTINE = "false_alarm_routine", "误报:作息变化"
    FALSE_ALARM_AWAY = "false_alarm_away", "误报:外出未报备"
    FALSE_ALARM_ACCIDENTAL = "false_alarm_accidental", "误报:误按/误触"
    FALSE_ALARM_OTHER = "false_alarm_other", "误报:其他原因"
    DEVICE_FAULT = "device_fault", "设备故障(已报修)"
    CARE_OK = "care_ok", "关爱核查:情况正常"
    CARE_FOLLOW = "care_follow", "关爱核查:需持续关注"
    CANCELLED = "cancelled", "撤销(服务终止)"


FALSE_ALARM_OUTCOMES = frozenset(o for o in Outcome if o.value.startswith("false_alarm_"))


class DispatchTarget(LabelledEnum):
    COMMUNITY_WORKER = "community_worker", "社区工作人员"
    VOLUNTEER = "volunteer", "志愿者"
    FAMILY = "family", "家属"
    PROPERTY = "property", "物业"
    EMERGENCY_120 = "emergency_120", "120急救"
    POLICE_110 = "police_110", "110报警"


class CallParty(LabelledEnum):
    ELDER = "elder", "老人本人"
    FAMILY = "family", "家属"
    NEIGHBOUR = "neighbour", "邻居"
    COMMUNITY = "community", "社区"
    OTHER = "other", "其他"


class CallResult(LabelledEnum):
    ANSWERED_OK = "answered_ok", "接通,平安"
    ANSWERED_HELP = "answered_help", "接通,需要帮助"
    NO_ANSWER = "no_answer", "无人接听"
    UNREACHABLE = "unreachable", "无法接通"


class EscalationLevel(LabelledEnum):
    COMMUNITY = "0", "社区(村)"
    TOWNSHIP = "1", "街道(镇)"
    DISTRICT = "2", "区级值班"


class TicketKind(LabelledEnum):
    OFFLINE = "offline", "设备离线"
    LOW_BATTERY = "low_battery", "电量低"
    TAMPER = "tamper", "设备被拆除/摘下"
    FAULT = "fault", "设备故障"


class TicketState(LabelledEnum):
    OPEN = "open", "待处理"
    DONE = "done", "已修复"
    CANCELLED = "cancelled", "已撤销"


class Channel(LabelledEnum):
    MQTT = "mqtt", "MQTT"
    HTTP = "http", "HTTP"
    FILE = "file", "文件导入"


class RejectReason(LabelledEnum):
    MALFORMED = "malformed", "报文格式错误"
    BAD_FIELD = "bad_field", "字段取值无效"
    UNKNOWN_DEVICE = "unknown_device", "未登记的设备"
    UNKNOWN_GATEWAY = "unknown_gateway", "未登记的网关"
    GATEWAY_UNBOUND = "gateway_unbound", "密钥未绑定网关"
    GATEWAY_HOME_MISMATCH = "gateway_home_mismatch", "网关与设备不属于同一户"
    TYPE_NOT_FOR_DEVICE = "type_not_for_device", "设备不支持该类型"
    FUTURE_TIMESTAMP = "future_timestamp", "时间戳超前"
    TOO_OLD = "too_old", "时间戳过旧(超出保留期)"
    KIT_INACTIVE = "kit_inactive", "设备所在户已停止服务"
    PROCESSING_ERROR = "processing_error", "处理失败"


class NotificationChannel(LabelledEnum):
    SMS = "sms", "短信"
    VOICE = "voice", "语音电话"
    APP = "app", "工作台推送"
