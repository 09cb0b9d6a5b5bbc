"""Vocabulary of 精准救助 (social assistance). Pure: no Django."""

from __future__ import annotations

from minzheng.core.choices import LabelledEnum


class Program(LabelledEnum):
    DIBAO = "dibao", "低保"
    DIBIAN = "dibian", "低边"
    TEKUN = "tekun", "特困"
    LINSHI = "linshi", "临时救助"
    MEDICAL = "medical", "医疗救助"
    EDUCATION = "education", "教育救助"
    HOUSING = "housing", "住房救助"
    EMPLOYMENT = "employment", "就业救助"
    LONGEVITY = "longevity", "高龄津贴"
    CHILDREN = "children", "儿童生活保障"


# Paid every month from an enrolment, recomputed by the rules engine each month.
RECURRING = frozenset({Program.DIBAO, Program.DIBIAN, Program.TEKUN, Program.LONGEVITY, Program.CHILDREN})
# Means-tested over the whole household (共同生活家庭成员).
HOUSEHOLD_PROGRAMS = frozenset({Program.DIBAO, Program.DIBIAN})
# One-off grants (临时救助 and the four 专项救助), paid once through the next roll or at once (先行救助).
ONE_OFF = frozenset({Program.LINSHI, Program.MEDICAL, Program.EDUCATION, Program.HOUSING, Program.EMPLOYMENT})
SPECIAL = frozenset({Program.MEDICAL, Program.EDUCATION, Program.HOUSING, Program.EMPLOYMENT})
# Who gets a monthly visit and a quarterly 幸福清单 (在册对象); 高龄津贴 is an allowance, not a case.
VISITED = frozenset({Program.DIBAO, Program.DIBIAN, Program.TEKUN, Program.CHILDREN})
# Applied for through the 申请→受理→核对→调查→公示→审批 workflow (高龄津贴 is automatic).
APPLICABLE = frozenset(Program) - {Program.LONGEVITY}


class ApplicationStatus(LabelledEnum):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已申请"
    NOT_ACCEPTED = "not_accepted", "不予受理"
    ACCEPTED = "accepted", "已受理"
    ECON_CHECK = "econ_check", "经济状况核对"
    INVESTIGATION = "investigation", "入户调查"
    PUBLICITY = "publicity", "公示中"
    REVIEW = "review", "待审批"
    APPROVED = "approved", "已批准"
    DENIED = "denied", "不予批准"
    WITHDRAWN = "withdrawn", "已撤回"
    EMERGENCY_PAID = "emergency_paid", "先行救助已发放"


OPEN_APPLICATION = frozenset({
    ApplicationStatus.DRAFT, ApplicationStatus.SUBMITTED, ApplicationStatus.ACCEPTED, ApplicationStatus.ECON_CHECK,
    ApplicationStatus.INVESTIGATION, ApplicationStatus.PUBLICITY, ApplicationStatus.REVIEW,
    ApplicationStatus.EMERGENCY_PAID,
})


class EnrolmentStatus(LabelledEnum):
    ACTIVE = "active", "在保"
    GRACE = "grace", "渐退期"
    SUSPENDED = "suspended", "暂停发放"
    TERMINATED = "terminated", "已退出"


LIVE_ENROLMENT = frozenset({EnrolmentStatus.ACTIVE, EnrolmentStatus.GRACE, EnrolmentStatus.SUSPENDED})
PAYABLE_ENROLMENT = frozenset({EnrolmentStatus.ACTIVE, EnrolmentStatus.GRACE})


class Stability(LabelledEnum):
    STABLE = "stable", "收入稳定(每年复核)"
    UNSTABLE = "unstable", "收入不固定或有劳动能力(每半年复核)"


class ExitReason(LabelledEnum):
    INCOME_ABOVE = "income_above", "家庭收入超过标准"
    ASSETS_ABOVE = "assets_above", "家庭财产超过规定"
    GRACE_ENDED = "grace_ended", "渐退期满"
    DEATH = "death", "死亡"
    MOVED_OUT = "moved_out", "户籍迁出"
    FALSE_DECLARATION = "false_declaration", "隐瞒或虚报"
    REFUSED_VERIFICATION = "refused_verification", "拒不配合核查"
    VOLUNTARY = "voluntary", "本人申请退出"
    AGE_OUT = "age_out", "不再符合年龄条件"
    NOT_ELIGIBLE = "not_eligible", "复核不再符合条件"
    OTHER = "other", "其他"


class ReviewOutcome(LabelledEnum):
    CONTINUE = "continue", "继续享受"
    ADJUST = "adjust", "调整金额"
    GRACE = "grace", "进入渐退期"
    EXIT = "exit", "退出"


class IncomeKind(LabelledEnum):
    WAGE = "wage", "工资性收入"
    NEW_JOB = "new_job", "新就业收入(可在渐退期内豁免)"
    BUSINESS = "business", "经营净收入"
    PROPERTY = "property", "财产净收入"
    PENSION = "pension", "养老金"
    TRANSFER = "transfer", "转移性收入"
    SUPPORT = "support", "赡(扶、抚)养费"
    OTHER = "other", "其他收入"


class AssetKind(LabelledEnum):
    DEPOSIT = "deposit", "存款"
    WEALTH = "wealth", "理财产品"
    SECURITIES = "securities", "有价证券"
    INSURANCE = "insurance", "商业保险(现金价值)"
    VEHICLE = "vehicle", "机动车"
    EXEMPT_VEHICLE = "exempt_vehicle", "两轮摩托车或残疾人代步车(豁免)"
    BUSINESS_CAPITAL = "business_capital", "企业认缴出资"


MONEY_ASSETS = frozenset({AssetKind.DEPOSIT, AssetKind.WEALTH, AssetKind.SECURITIES, AssetKind.INSURANCE})


class EvidenceSource(LabelledEnum):
    DECLARED = "declared", "本人申报"
    PLATFORM = "platform", "核对平台比对"
    DOCUMENT = "document", "证明材料"


class AttachmentKind(LabelledEnum):
    ID_CARD = "id_card", "身份证明"
    HOUSEHOLD_REGISTER = "household_register", "户口簿"
    INCOME_PROOF = "income_proof", "收入证明"
    ASSET_PROOF = "asset_proof", "财产证明"
    MEDICAL = "medical", "医疗票据或诊断证明"
    DISABILITY = "disability", "残疾证"
    AUTHORIZATION = "authorization", "核对授权书"
    PHOTO = "photo", "现场照片"
    OTHER = "other", "其他材料"


class AwayCode(LabelledEnum):
    NONE = "0", "在家"
    RELIGIOUS = "1", "宗教教职人员离家满3年"
    CUSTODY = "2", "服刑或强制隔离戒毒"
    MISSING = "3", "被宣告失踪"


class ChildCategory(LabelledEnum):
    SCATTERED_ORPHAN = "1", "社会散居孤儿"
    DE_FACTO_UNSUPPORTED = "2", "事实无人抚养儿童"
    INSTITUTION_ORPHAN = "3", "福利机构养育孤儿"
    SEVERE_CONDITION = "4", "重残、重病、罕见病儿童"
    OTHER_HARDSHIP = "5", "其他困境儿童"


class CareForm(LabelledEnum):
    CENTRALISED = "centralised", "集中供养"
    DISPERSED = "dispersed", "分散供养"


class RollStatus(LabelledEnum):
    DRAFT = "draft", "待生成"
    FROZEN = "frozen", "已生成待审核"
    APPROVED = "approved", "已审核待发放"
    PAYING = "paying", "发放中"
    PAID = "paid", "已发放"
    CANCELLED = "cancelled", "已作废"


UNFINISHED_ROLL = frozenset({RollStatus.DRAFT, RollStatus.FROZEN, RollStatus.APPROVED, RollStatus.PAYING})


class LineKind(LabelledEnum):
    REGULAR = "regular", "当月"
    ARREARS = "arrears", "补发"
    ONE_OFF = "one_off", "一次性救助"


class LineStatus(LabelledEnum):
    """A line is frozen with its roll. It is paid when its township's posting exists (see
    ``PayrollPosting``): payment writes one row per township, not one update per line."""

    PENDING = "pending", "应发"
    HELD = "held", "暂停发放"
    CANCELLED = "cancelled", "已作废"


class PeriodStatus(LabelledEnum):
    OPEN = "open", "未关账"
    CLOSED = "closed", "已关账"


class AdjustmentKind(LabelledEnum):
    SUPPLEMENT = "supplement", "补发"
    RECOVERY = "recovery", "追回"


class AdjustmentStatus(LabelledEnum):
    OPEN = "open", "待执行"
    APPLIED = "applied", "已执行"
    RECEIVABLE = "receivable", "待追缴(无后续发放可抵扣)"
    CANCELLED = "cancelled", "已撤销"


class GrantStatus(LabelledEnum):
    APPROVED = "approved", "已批准待发放"
    PAID = "paid", "已发放"
    CANCELLED = "cancelled", "已撤销"


class TaskStatus(LabelledEnum):
    PLANNED = "planned", "待探访"
    DONE = "done", "已探访"
    MISSED = "missed", "未按期探访"
    CANCELLED = "cancelled", "已取消"


class VisitPlace(LabelledEnum):
    HOME = "home", "入户"
    COMMUNITY = "community", "村社办公场所"
    HOSPITAL = "hospital", "医院"
    INSTITUTION = "institution", "养老或福利机构"
    PHONE = "phone", "电话或视频"
    OTHER = "other", "其他地点"


class Need(LabelledEnum):
    MEDICAL = "medical", "就医"
    CARE = "care", "生活照料"
    MEALS = "meals", "助餐"
    HOUSING = "housing", "住房改善"
    EMPLOYMENT = "employment", "就业"
    EDUCATION = "education", "就学"
    PSYCHOLOGICAL = "psychological", "心理疏导"
    LEGAL = "legal", "法律援助"
    GOODS = "goods", "生活物资"
    OTHER = "other", "其他"


class Finding(LabelledEnum):
    STABLE = "stable", "生活稳定"
    CHANGED = "changed", "家庭情况有变化(需复核)"
    AT_RISK = "at_risk", "存在风险(需跟进)"
    NOT_HOME = "not_home", "未见本人"


class OutreachStatus(LabelledEnum):
    OPEN = "open", "待走访"
    CONTACTED = "contacted", "已联系"
    REFERRED = "referred", "已引导申请"
    NOT_NEEDED = "not_needed", "无需救助"


class RescueStage(LabelledEnum):
    FOUND = "found", "发现"
    SHELTERED = "sheltered", "入站救助"
    ESCORTED_HOME = "escorted_home", "护送返乡"
    HANDED_OVER = "handed_over", "交亲属接回"
    LEFT = "left", "自行离站"
    OTHER = "other", "其他安置"


class ProjectStatus(LabelledEnum):
    PLANNED = "planned", "已发布"
    RUNNING = "running", "实施中"
    COMPLETED = "completed", "已结项"


class HousingStatus(LabelledEnum):
    SURVEYED = "surveyed", "已摸排"
    IN_PROGRESS = "in_progress", "改善中"
    COMPLETED = "completed", "已完工"
    ACCEPTED = "accepted", "已验收"
