"""Vocabulary of 智慧助餐 (meal assistance, 全城通吃). Pure: no Django, so ``domain`` can use it."""

from __future__ import annotations

from minzheng.core.choices import LabelledEnum

YUHANG = "330110"  # the district this platform runs (GB/T 2260 code of 余杭区)
HANGZHOU = "3301"  # the city: rule sets for the city apply to every district without its own
CITY_POOL = "city"  # the payer "市级统筹" in clearing statements


class PointType(LabelledEnum):
    COMMUNITY_CANTEEN = "community_canteen", "社区食堂(全龄)"
    ELDER_CANTEEN = "elder_canteen", "老年食堂"
    MEAL_POINT = "meal_point", "助餐点"
    DELIVERY = "delivery", "送餐服务"


class Slot(LabelledEnum):
    BREAKFAST = "breakfast", "早餐"
    LUNCH = "lunch", "午餐"
    DINNER = "dinner", "晚餐"


class DinerStatus(LabelledEnum):
    PENDING = "pending", "待审核"
    ACTIVE = "active", "正常"
    REJECTED = "rejected", "未通过"
    SUSPENDED = "suspended", "已暂停"


class Category(LabelledEnum):
    """Target groups (重点保障对象). Derived from the registry, never typed twice."""

    DIBAO = "dibao", "低保"
    DIBIAN = "dibian", "低边"
    TEKUN = "tekun", "特困"
    DISABLED_CARE = "disabled_care", "失能"
    ALONE = "alone", "独居"
    ADVANCED_AGE = "advanced_age", "高龄"
    DISABILITY = "disability", "残疾"
    YOUFU = "youfu", "优抚"


class CredentialKind(LabelledEnum):
    CITIZEN_CARD = "citizen_card", "市民卡"
    LOVE_CARD = "love_card", "爱心卡"
    QR = "qr", "动态二维码"
    FACE = "face", "人脸"
    ID_NUMBER = "id_number", "身份证号(人工核验)"


CARD_KINDS = frozenset({CredentialKind.CITIZEN_CARD, CredentialKind.LOVE_CARD})


class LeaveKind(LabelledEnum):
    AWAY = "away", "外出"
    HOSPITAL = "hospital", "住院"


class Tender(LabelledEnum):
    """How the elder pays the self-pay part (自付部分)."""

    CASH = "cash", "现金"
    CITIZEN_CARD = "citizen_card", "市民卡"
    WECHAT = "wechat", "微信"
    ALIPAY = "alipay", "支付宝"
    LOVE_CARD = "love_card", "爱心卡余额"


class MealStatus(LabelledEnum):
    SERVED = "served", "已结算"
    VOIDED = "voided", "已冲正"


class SecondMealPolicy(LabelledEnum):
    """What a second attempt in the same slot gets once the subsidised meal is taken."""

    FULL_PRICE = "full_price", "按原价结算"
    REFUSE = "refuse", "拒绝结算"


class PayerRule(LabelledEnum):
    """Who pays the public part (discount + subsidy) of a meal eaten outside the home district."""

    HOME_DISTRICT = "home_district", "老人户籍(登记)所在区"
    CANTEEN_DISTRICT = "canteen_district", "就餐点所在区"
    CITY_POOL = "city_pool", "市级统筹"


class RuleStatus(LabelledEnum):
    CONFIRMED = "confirmed", "已确认"
    TO_CONFIRM = "to_confirm", "待民政局确认"


class Channel(LabelledEnum):
    TERMINAL = "terminal", "结算终端"
    PAGE = "page", "助餐点页面"
    OFFLINE = "offline", "离线补传"
    INTEROP = "interop", "全城通对接"
    SEED = "seed", "历史数据"


class ClaimStatus(LabelledEnum):
    SUBMITTED = "submitted", "待街道审核"
    TOWNSHIP_APPROVED = "township_approved", "待区级审批"
    APPROVED = "approved", "已审批待支付"
    PAID = "paid", "已支付"
    REJECTED = "rejected", "已退回"


class ExceptionStatus(LabelledEnum):
    OPEN = "open", "待处理"
    RESOLVED = "resolved", "已处理"


class ExceptionKind(LabelledEnum):
    COUNT_MISMATCH = "count_mismatch", "笔数不符"
    AMOUNT_MISMATCH = "amount_mismatch", "金额不符"
    MISSING_IN_LEDGER = "missing_in_ledger", "账本缺少记账"
    MISSING_ON_TERMINAL = "missing_on_terminal", "终端未上报"


class FlagKind(LabelledEnum):
    VELOCITY = "velocity", "同一凭证短时间内在两处就餐"
    HOSPITAL_LEAVE = "hospital_leave", "住院期间就餐"
    AFTER_DEATH = "after_death", "身故后就餐"
    LONG_AWAY = "long_away", "外出报备期间就餐"


class WalletMove(LabelledEnum):
    GRANT = "grant", "发放"
    SPEND = "spend", "消费"
    EXPIRE = "expire", "到期收回"
    CLAWBACK = "clawback", "追回"
