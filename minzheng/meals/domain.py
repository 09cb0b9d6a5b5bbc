"""Pure rules of 智慧助餐: ages and categories, pricing and subsidy, QR tokens, slots, clearing,
reconciliation and the anomaly rules. No Django here (DESIGN §4.4).

Money is ``int`` fen throughout. A quote satisfies, for every input:

    price = discount + subsidy + wallet + self_pay,   every part ≥ 0

and explains itself line by line (``Quote.trace``): which rule set and version, which band or
category override, which cap cut what, and what is left for the wallet and the elder.

Stacking order (eldercare.md §1.4 A3): discount → fixed subsidy → caps → 电子津贴 wallet → self-pay.
Rounding: a percentage discount is floored to the fen (the public purse never pays part of a fen).
"""

from __future__ import annotations

import base64
import itertools
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from minzheng.core import crypto
from minzheng.core.identifiers import mask_name  # noqa: F401 - part of this module's API
from minzheng.meals.enums import (
    CITY_POOL,
    YUHANG,
    Category,
    PayerRule,
    RuleStatus,
    SecondMealPolicy,
    Slot,
)

BP = 10_000  # basis points: 2000 bp = 20 % off (8折)
MAX_PRICE_FEN = 100_000  # ¥1,000 for one meal: anything above is a typing error
ELDER_AGE = 60

# --- ages, categories, working days -------------------------------------------------------------


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# Registry tags that name a target group. 低保/低边/特困 are written on the record by the
# assistance module (staff cannot type them), in exactly these words; 优抚 is typed by staff, in
# any of its spellings.
TAG_CATEGORIES: Mapping[str, str] = {
    "低保": Category.DIBAO, "低边": Category.DIBIAN, "特困": Category.TEKUN,
    "youfu": Category.YOUFU, "优抚": Category.YOUFU, "优抚对象": Category.YOUFU,
}
ADVANCED_AGE = 80


def derive_categories(
    *, age: int, self_care: str, living_arrangement: str, disability_category: str, tags: Iterable[str]
) -> frozenset[str]:
    """Target groups from what the registry already holds (A1: "not typed twice")."""
    out: set[str] = set()
    if age >= ADVANCED_AGE:
        out.add(Category.ADVANCED_AGE)
    if self_care in ("dependent", "partial"):
        out.add(Category.DISABLED_CARE)
    if living_arrangement == "alone":
        out.add(Category.ALONE)
    if disability_category:
        out.add(Category.DISABILITY)
    for tag in tags or ():
        cat = TAG_CATEGORIES.get(str(tag).strip().lower()) or TAG_CATEGORIES.get(str(tag).strip())
        if cat:
            out.add(cat)
    return frozenset(out)


def category_labels(categories: Iterable[str]) -> list[str]:
    labels = dict(Category.as_choices())
    order = list(labels)
    return [labels[c] for c in sorted(set(categories), key=lambda c: order.index(c) if c in order else 99) if c in labels]


def next_working_day(day: date, is_workday: Callable[[date], bool]) -> date:
    nxt = day + timedelta(days=1)
    while not is_workday(nxt):
        nxt += timedelta(days=1)
    return nxt


def review_deadline(registered: date, is_workday: Callable[[date], bool]) -> date:
    """A registration is reviewed by the end of the next working day (盱眙: "24 h"; A1: ≤ 1 working day)."""
    return next_working_day(registered, is_workday)


# --- slots ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotWindow:
    slot: str
    starts: time
    ends: time  # exclusive
    price_fen: int = 0  # the point's standard set meal for the slot (0: priced at the till)


DEFAULT_WINDOWS: tuple[SlotWindow, ...] = (
    SlotWindow(Slot.BREAKFAST, time(6, 0), time(9, 0), 500),
    SlotWindow(Slot.LUNCH, time(10, 30), time(13, 30), 1500),
    SlotWindow(Slot.DINNER, time(16, 30), time(19, 30), 1500),
)


def slot_at(moment: time, windows: Sequence[SlotWindow]) -> SlotWindow | None:
    for w in windows:
        if w.starts <= moment < w.ends:
            return w
    return None


def check_slot_windows(windows: Sequence[SlotWindow]) -> dict[str, str]:
    errors: dict[str, str] = {}
    seen: set[str] = set()
    for w in windows:
        if w.slot not in Slot.value_set():
            errors["slot"] = "餐次取值无效"
        elif w.slot in seen:
            errors[w.slot] = "同一餐次只能设置一个时段"
        seen.add(w.slot)
        if w.ends <= w.starts:
            errors[w.slot] = "结束时间须晚于开始时间"
        if not 0 <= w.price_fen <= MAX_PRICE_FEN:
            errors[f"{w.slot}.price_fen"] = "标准餐价超出范围"
    ordered = sorted(windows, key=lambda w: w.starts)
    for a, b in itertools.pairwise(ordered):
        if b.starts < a.ends:
            errors[b.slot] = f"与{Slot(a.slot).label}时段重叠"
    return errors


# --- rule sets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgeBand:
    min_age: int
    max_age: int | None  # inclusive; None: no upper bound
    discount_bp: int = 0
    subsidy_fen: int = 0  # fixed subsidy per meal …
    subsidy_threshold_fen: int = 0  # … when the meal's price reaches this
    status: str = RuleStatus.CONFIRMED
    source: str = ""

    @property
    def label(self) -> str:
        return f"{self.min_age}岁以上" if self.max_age is None else f"{self.min_age}–{self.max_age}岁"

    def covers(self, age: int) -> bool:
        return age >= self.min_age and (self.max_age is None or age <= self.max_age)


OVERRIDE_MODES = ("free", "pay_fixed", "discount", "extra_subsidy")


@dataclass(frozen=True)
class CategoryOverride:
    """A target group's own rule: ``free`` (特困 免费), ``pay_fixed`` (pays ``value`` fen at most),
    ``discount`` (``value`` bp instead of the band's when larger), ``extra_subsidy`` (+``value`` fen)."""

    category: str
    mode: str
    value: int = 0
    cap_exempt: bool = False  # caps do not cut it (a free meal stays free)
    status: str = RuleStatus.CONFIRMED
    source: str = ""


@dataclass(frozen=True)
class Caps:
    per_meal_fen: int | None = None
    per_day_fen: int | None = None
    per_month_fen: int | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.per_meal_fen, self.per_day_fen, self.per_month_fen))

    @property
    def needs_history(self) -> bool:
        return self.per_day_fen is not None or self.per_month_fen is not None


@dataclass(frozen=True)
class RuleSet:
    region: str  # a district code (330110) or the city (3301)
    version: str
    effective_from: date
    effective_to: date | None = None  # inclusive
    min_age: int = ELDER_AGE
    bands: tuple[AgeBand, ...] = ()
    overrides: tuple[CategoryOverride, ...] = ()
    caps: Caps = field(default_factory=Caps)
    payer_rule: str = PayerRule.HOME_DISTRICT
    second_meal: str = SecondMealPolicy.FULL_PRICE
    source: str = ""
    status: str = RuleStatus.CONFIRMED

    @property
    def ref(self) -> str:
        return f"{self.region}@{self.version}"

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def band_for(self, age: int) -> AgeBand | None:
        for band in self.bands:
            if band.covers(age):
                return band
        return None

    @property
    def to_confirm(self) -> list[str]:
        """What the bureau still has to confirm (shown on the rules page and in every trace)."""
        out = [f"{b.label}档" for b in self.bands if b.status == RuleStatus.TO_CONFIRM]
        out += [f"{Category(o.category).label}政策" for o in self.overrides if o.status == RuleStatus.TO_CONFIRM]
        return out


HANGZHOU_SOURCE = "杭州市民政局《关于提升全市老年人智慧助餐服务工作的指导意见》(60–79周岁8折)"
TO_CONFIRM_SOURCE = "指导意见原文80岁以上部分缺失, 参照江干丁兰街道做法暂定, 待民政局确认"


def hangzhou_default(region: str = YUHANG, effective_from: date = date(2023, 1, 1)) -> RuleSet:
    """The city's rule as the platform ships it: 60–79 at 20 % off (sourced); 80–89 and 90+ are
    configuration marked 待民政局确认; 特困 eat free (cap-exempt), 低保 pay at most ¥3 (to confirm)."""
    return RuleSet(
        region=region,
        version="2023.1",
        effective_from=effective_from,
        bands=(
            AgeBand(60, 79, discount_bp=2000, source=HANGZHOU_SOURCE),
            AgeBand(80, 89, discount_bp=3000, status=RuleStatus.TO_CONFIRM, source=TO_CONFIRM_SOURCE),
            AgeBand(90, None, discount_bp=5000, status=RuleStatus.TO_CONFIRM, source=TO_CONFIRM_SOURCE),
        ),
        overrides=(
            CategoryOverride(Category.TEKUN, "free", cap_exempt=True, status=RuleStatus.TO_CONFIRM,
                             source="特困人员供养: 助餐免费 (待民政局确认)"),
            CategoryOverride(Category.DIBAO, "pay_fixed", 300, status=RuleStatus.TO_CONFIRM,
                             source="低保老人每餐自付不超过3元 (待民政局确认)"),
        ),
        payer_rule=PayerRule.HOME_DISTRICT,
        second_meal=SecondMealPolicy.FULL_PRICE,
        source=HANGZHOU_SOURCE,
        status=RuleStatus.CONFIRMED,
    )


def check_rule_set(rules: RuleSet) -> dict[str, str]:
    """Field → Chinese message for a rule set that cannot be used."""
    errors: dict[str, str] = {}
    if not rules.region or not rules.region.isdigit() or len(rules.region) not in (4, 6):
        errors["region"] = "适用地区应为4位(市)或6位(区县)行政区划代码"
    if not rules.version.strip():
        errors["version"] = "请填写版本号"
    if rules.effective_to is not None and rules.effective_to < rules.effective_from:
        errors["effective_to"] = "失效日期不能早于生效日期"
    if not 0 <= rules.min_age <= 120:
        errors["min_age"] = "起始年龄无效"
    bands = sorted(rules.bands, key=lambda b: b.min_age)
    for i, b in enumerate(bands):
        name = f"bands[{i}]"
        if not 0 <= b.discount_bp <= BP:
            errors[name] = "折扣须在0%–100%之间"
        if b.max_age is not None and b.max_age < b.min_age:
            errors[name] = "年龄段上限不能小于下限"
        if b.subsidy_fen < 0 or b.subsidy_threshold_fen < 0:
            errors[name] = "补贴金额和门槛不能为负"
        if i and (bands[i - 1].max_age is None or bands[i - 1].max_age >= b.min_age):  # type: ignore[operator]
            errors[name] = "年龄段重叠"
    for i, o in enumerate(rules.overrides):
        name = f"overrides[{i}]"
        if o.category not in Category.value_set():
            errors[name] = "人群类别取值无效"
        elif o.mode not in OVERRIDE_MODES:
            errors[name] = "特殊人群规则方式无效"
        elif o.value < 0 or (o.mode == "discount" and o.value > BP):
            errors[name] = "特殊人群规则数值无效"
    for name in ("per_meal_fen", "per_day_fen", "per_month_fen"):
        value = getattr(rules.caps, name)
        if value is not None and value < 0:
            errors[f"caps.{name}"] = "封顶金额不能为负"
    if rules.payer_rule not in PayerRule.value_set():
        errors["payer_rule"] = "付费方规则取值无效"
    if rules.second_meal not in SecondMealPolicy.value_set():
        errors["second_meal"] = "重复就餐处理方式无效"
    return errors


def select_rule_set(rule_sets: Iterable[RuleSet], *, region: str, day: date) -> RuleSet | None:
    """The rule set in force on ``day`` for ``region``: the district's own before the city's,
    the latest ``effective_from`` among those covering the day."""
    best: tuple[int, date, RuleSet] | None = None
    for rs in rule_sets:
        if not rs.covers(day) or not region.startswith(rs.region):
            continue
        key = (len(rs.region), rs.effective_from, rs)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


# --- quotes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceLine:
    step: str  # price | eligibility | discount | subsidy | override | cap | slot | wallet | self_pay
    label: str  # Chinese, what a canteen operator and an auditor read
    amount_fen: int  # effect on what the elder still owes (reductions negative)
    remaining_fen: int  # still owed after this line
    rule: str = ""  # rule set, band or override that produced the line

    def as_dict(self) -> dict[str, object]:
        return {"step": self.step, "label": self.label, "amount_fen": self.amount_fen,
                "remaining_fen": self.remaining_fen, "rule": self.rule}


@dataclass(frozen=True)
class QuoteInput:
    price_fen: int
    age: int
    categories: frozenset[str] = frozenset()
    eligible: bool = True  # registered, reviewed, not suspended
    ineligible_reason: str = ""
    slot_taken: bool = False  # a subsidised meal is already recorded for this person and slot
    slot_label: str = ""
    day_benefit_used_fen: int = 0
    month_benefit_used_fen: int = 0
    wallet_available_fen: int = 0
    use_wallet: bool = True
    wallet_allowed: bool = True  # the point is an approved provider and the diner may spend


@dataclass(frozen=True)
class Quote:
    price_fen: int
    discount_fen: int
    subsidy_fen: int
    wallet_fen: int
    self_pay_fen: int
    rule_ref: str
    band: str
    trace: tuple[TraceLine, ...]
    refused: bool = False  # the rule set refuses a second meal in the slot
    notice: str = ""  # one Chinese sentence for the screen
    to_confirm: tuple[str, ...] = ()

    @property
    def benefit_fen(self) -> int:
        return self.discount_fen + self.subsidy_fen

    @property
    def subsidised(self) -> bool:
        return self.benefit_fen > 0

    def parts(self) -> tuple[int, int, int, int]:
        return self.discount_fen, self.subsidy_fen, self.wallet_fen, self.self_pay_fen

    def trace_dicts(self) -> list[dict[str, object]]:
        return [t.as_dict() for t in self.trace]


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    y, f = divmod(abs(int(fen)), 100)
    return f"{sign}¥{y}.{f:02d}"


def _decimal(value: int, scale: int) -> str:
    whole, frac = divmod(value, scale)
    if not frac:
        return str(whole)
    digits = len(str(scale)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0")


def pct_text(bp: int) -> str:
    """2000 → "20%", 1550 → "15.5%" (integers only: no float near money)."""
    return _decimal(bp, 100) + "%"


def zhe_text(bp: int) -> str:
    """2000 bp off → "8折", 1500 → "8.5折"."""
    return _decimal(BP - bp, 1000) + "折"


class _Builder:
    def __init__(self, price: int):
        self.remaining = price
        self.lines: list[TraceLine] = [TraceLine("price", f"餐费 {yuan(price)}", price, price)]

    def add(self, step: str, label: str, amount: int, rule: str = "") -> None:
        self.remaining += amount
        self.lines.append(TraceLine(step, label, amount, self.remaining, rule))


def _override_benefit(o: CategoryOverride, price: int, band_discount: int, band_subsidy: int) -> tuple[int, int]:
    """(discount, subsidy) the override yields for ``price``, before caps."""
    if o.mode == "free":
        return band_discount, price - band_discount
    if o.mode == "pay_fixed":
        pays = min(o.value, price)
        discount = min(band_discount, price - pays)
        return discount, price - pays - discount
    if o.mode == "discount":  # the larger discount; the band's subsidy then covers at most what is left
        discount = max(band_discount, price * o.value // BP)
        return discount, min(band_subsidy, price - discount)
    if o.mode == "extra_subsidy":
        return band_discount, min(price - band_discount, band_subsidy + o.value)
    return band_discount, band_subsidy


def quote(rules: RuleSet | None, q: QuoteInput) -> Quote:
    """Price one meal for one person under ``rules`` (see the module docstring)."""
    if not isinstance(q.price_fen, int) or isinstance(q.price_fen, bool) or not 0 <= q.price_fen <= MAX_PRICE_FEN:
        raise ValueError("price_fen must be an int between 0 and MAX_PRICE_FEN")
    price = q.price_fen
    b = _Builder(price)
    discount = subsidy = 0
    band_label = ""
    refused = False
    notice = ""
    rule_ref = rules.ref if rules else ""
    to_confirm: tuple[str, ...] = tuple(rules.to_confirm) if rules else ()

    if rules is None:
        b.add("eligibility", "无适用的助餐优惠规则, 按原价结算", 0)
        notice = "无适用的优惠规则, 按原价结算"
    elif not q.eligible:
        b.add("eligibility", f"不享受优惠: {q.ineligible_reason or '未登记为助餐对象'}", 0, rule_ref)
        notice = q.ineligible_reason or "未登记为助餐对象, 按原价结算"
    elif q.age < rules.min_age:
        b.add("eligibility", f"{q.age}岁, 未满{rules.min_age}岁, 不享受老年助餐优惠", 0, rule_ref)
        notice = f"未满{rules.min_age}岁, 按原价结算"
    elif q.slot_taken:
        slot = q.slot_label or "本餐次"
        if rules.second_meal == SecondMealPolicy.REFUSE:
            refused = True
            b.add("slot", f"{slot}已享受过一次优惠(全市每人每餐次限一次), 按规定拒绝结算", 0, rule_ref)
            notice = f"该老人{slot}已在助餐点享受过优惠, 本次不能结算"
        else:
            b.add("slot", f"{slot}已享受过一次优惠(全市每人每餐次限一次), 本次按原价结算", 0, rule_ref)
            notice = f"该老人{slot}已享受过优惠, 本次按原价结算"
    else:
        band = rules.band_for(q.age)
        band_discount = band_subsidy = 0
        if band is not None:
            band_label = band.label
            band_ref = f"{rule_ref} {band.label}" + ("(待民政局确认)" if band.status == RuleStatus.TO_CONFIRM else "")
            band_discount = price * band.discount_bp // BP
            if band.subsidy_fen and price >= band.subsidy_threshold_fen:
                band_subsidy = min(band.subsidy_fen, price - band_discount)
        else:
            band_ref = rule_ref
        best: CategoryOverride | None = None
        best_parts = (band_discount, band_subsidy)
        for o in rules.overrides:
            if o.category not in q.categories:
                continue
            parts = _override_benefit(o, price, band_discount, band_subsidy)
            if sum(parts) > sum(best_parts):
                best, best_parts = o, parts
        discount, subsidy = best_parts
        cat = Category(best.category).label if best is not None else ""
        o_ref = ""
        if best is not None:
            o_ref = f"{rule_ref} {cat}" + ("(待民政局确认)" if best.status == RuleStatus.TO_CONFIRM else "")
        if discount:
            if best is not None and best.mode == "discount" and discount > band_discount:
                b.add("override", f"{cat}人员优惠 {pct_text(best.value)}", -discount, o_ref)
            else:
                pct = band.discount_bp if band else 0
                b.add("discount", f"{band_label}优惠 {pct_text(pct)}({zhe_text(pct)})", -discount, band_ref)
        if subsidy:
            if best is not None and best.mode in ("free", "pay_fixed", "extra_subsidy"):
                text = {
                    "free": f"{cat}人员免费就餐",
                    "pay_fixed": f"{cat}人员每餐自付不超过{yuan(best.value)}",
                    "extra_subsidy": f"{cat}人员加补 {yuan(best.value)}(含定额补贴)",
                }[best.mode]
                b.add("override", text, -subsidy, o_ref)
            elif band is not None:
                b.add("subsidy", f"{band_label}定额补贴 {yuan(band.subsidy_fen)}(餐费满{yuan(band.subsidy_threshold_fen)})",
                      -subsidy, band_ref)
        if band is None and best is None:
            b.add("eligibility", f"{q.age}岁不在任何优惠年龄段", 0, rule_ref)
        # Caps on the public part (discount + subsidy): the subsidy is cut first, then the discount.
        if not (best is not None and best.cap_exempt) and rules.caps.any:
            limits: list[tuple[int, str]] = []
            caps = rules.caps
            if caps.per_meal_fen is not None:
                limits.append((caps.per_meal_fen, f"每餐优惠封顶 {yuan(caps.per_meal_fen)}"))
            if caps.per_day_fen is not None:
                limits.append((max(0, caps.per_day_fen - q.day_benefit_used_fen),
                               f"每日优惠封顶 {yuan(caps.per_day_fen)}(今日已享 {yuan(q.day_benefit_used_fen)})"))
            if caps.per_month_fen is not None:
                limits.append((max(0, caps.per_month_fen - q.month_benefit_used_fen),
                               f"每月优惠封顶 {yuan(caps.per_month_fen)}(本月已享 {yuan(q.month_benefit_used_fen)})"))
            for limit, text in limits:
                excess = discount + subsidy - limit
                if excess > 0:
                    cut_sub = min(subsidy, excess)
                    subsidy -= cut_sub
                    discount -= excess - cut_sub
                    b.add("cap", text, excess, rule_ref)
        if discount + subsidy == 0 and band is not None and not refused:
            notice = "本次不享受优惠"
    wallet = 0
    remaining = price - discount - subsidy
    if not refused and q.use_wallet and q.wallet_allowed and q.wallet_available_fen > 0 and remaining > 0:
        wallet = min(q.wallet_available_fen, remaining)
        b.add("wallet", f"电子津贴抵扣(余额 {yuan(q.wallet_available_fen)})", -wallet)
    self_pay = price - discount - subsidy - wallet
    b.add("self_pay", f"老人自付 {yuan(self_pay)}", 0)
    if not notice and (discount or subsidy):
        notice = f"优惠 {yuan(discount + subsidy)}, 自付 {yuan(self_pay)}"
    return Quote(
        price_fen=price, discount_fen=discount, subsidy_fen=subsidy, wallet_fen=wallet, self_pay_fen=self_pay,
        rule_ref=rule_ref, band=band_label, trace=tuple(b.lines), refused=refused, notice=notice,
        to_confirm=to_confirm,
    )


def split_tenders(self_pay_fen: int, tenders: Mapping[str, int]) -> dict[str, int]:
    """Check that the tenders cover the self-pay exactly; returns only the non-zero ones.
    Raises ``ValueError`` with a Chinese message otherwise."""
    out: dict[str, int] = {}
    for name, amount in tenders.items():
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"{name} 金额须为非负整数分")
        if amount:
            out[name] = out.get(name, 0) + amount
    total = sum(out.values())
    if total != self_pay_fen:
        raise ValueError(f"各支付方式合计 {yuan(total)} 与应自付 {yuan(self_pay_fen)} 不符")
    return out


# --- payer and clearing --------------------------------------------------------------------------


def payer_for(rule: str, *, home_region: str, canteen_region: str) -> str:
    """Who pays the public part of a meal: a district code, or ``CITY_POOL``."""
    if rule == PayerRule.CITY_POOL:
        return CITY_POOL
    if rule == PayerRule.CANTEEN_DISTRICT:
        return canteen_region
    return home_region or canteen_region


@dataclass(frozen=True)
class ClearingFlow:
    """Money the ``payer`` owes the district of the canteens (``payee``) for a period."""

    payer: str
    payee: str
    meals: int
    benefit_fen: int


def net_positions(flows: Iterable[ClearingFlow]) -> dict[str, int]:
    """Each party's net position (positive: is owed money). Sums to zero."""
    pos: dict[str, int] = {}
    for f in flows:
        if f.payer == f.payee:
            continue
        pos[f.payer] = pos.get(f.payer, 0) - f.benefit_fen
        pos[f.payee] = pos.get(f.payee, 0) + f.benefit_fen
    return pos


def net_settlements(flows: Iterable[ClearingFlow]) -> list[tuple[str, str, int]]:
    """Pairwise netting: (debtor, creditor, fen) with each pair once, debtor owing the net."""
    pair: dict[tuple[str, str], int] = {}
    for f in flows:
        if f.payer == f.payee or not f.benefit_fen:
            continue
        a, b = sorted((f.payer, f.payee))
        sign = 1 if f.payer == a else -1  # positive: a owes b
        pair[(a, b)] = pair.get((a, b), 0) + sign * f.benefit_fen
    out = []
    for (a, b), v in sorted(pair.items()):
        if v > 0:
            out.append((a, b, v))
        elif v < 0:
            out.append((b, a, -v))
    return out


# --- reconciliation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    meals: int = 0
    price_fen: int = 0
    benefit_fen: int = 0
    wallet_fen: int = 0
    self_pay_fen: int = 0


@dataclass(frozen=True)
class Discrepancy:
    kind: str  # ExceptionKind
    field: str
    expected: int
    actual: int

    @property
    def label(self) -> str:
        names = {"meals": "笔数", "price_fen": "餐费", "benefit_fen": "优惠补贴", "wallet_fen": "电子津贴",
                 "self_pay_fen": "自付"}
        return f"{names.get(self.field, self.field)}: 终端 {self.expected}, 账本 {self.actual}"


def compare_totals(terminal: Totals, ledger: Totals) -> list[Discrepancy]:
    out: list[Discrepancy] = []
    for name in ("meals", "price_fen", "benefit_fen", "wallet_fen", "self_pay_fen"):
        a, b = getattr(terminal, name), getattr(ledger, name)
        if a != b:
            if name == "meals":
                kind = "missing_in_ledger" if a > b else "missing_on_terminal"
                out.append(Discrepancy(kind, name, a, b))
            else:
                out.append(Discrepancy("amount_mismatch", name, a, b))
    return out


# --- operating subsidy (A12) ---------------------------------------------------------------------


def operating_subsidy(meals_by_band: Mapping[str, int], rate_by_band: Mapping[str, int],
                      quality_pct: int = 100) -> tuple[int, list[str]]:
    """Operator subsidy from platform data: Σ meals × rate per band × quality factor (黄浦 model).
    Returns (fen, explanation lines). ``quality_pct`` 0–120."""
    total = 0
    lines = []
    for band, n in sorted(meals_by_band.items()):
        rate = rate_by_band.get(band, 0)
        part = n * rate
        total += part
        lines.append(f"{band}: {n}餐 × {yuan(rate)} = {yuan(part)}")
    adjusted = total * max(0, min(quality_pct, 120)) // 100
    lines.append(f"质量系数 {quality_pct}%: {yuan(total)} → {yuan(adjusted)}")
    return adjusted, lines


# --- anomaly rules (A4, A14) ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sighting:
    diner_id: int
    point_id: int
    at: datetime
    meal_id: int = 0


def velocity_pairs(sightings: Iterable[Sighting], *, minutes: int) -> list[tuple[Sighting, Sighting]]:
    """Pairs of consecutive sightings of one diner at two different points less than ``minutes`` apart."""
    by_diner: dict[int, list[Sighting]] = {}
    for s in sightings:
        by_diner.setdefault(s.diner_id, []).append(s)
    out = []
    window = timedelta(minutes=minutes)
    for seen in by_diner.values():
        seen.sort(key=lambda s: s.at)
        for a, b in itertools.pairwise(seen):
            if a.point_id != b.point_id and b.at - a.at < window:
                out.append((a, b))
    return out


def is_regular(meal_days: int, window_days: int, *, min_share_pct: int = 40) -> bool:
    """A regular diner ate on at least ``min_share_pct`` % of the window's days."""
    return window_days > 0 and meal_days * 100 >= min_share_pct * window_days


def absent_days(last_meal: date, today: date) -> int:
    return (today - last_meal).days


# --- dynamic QR tokens (A2: anti-screenshot, short-lived) --------------------------------------

QR_CONTEXT = b"minzheng.meals.qr.v1\n"
QR_PREFIX = "MQ1"
QR_TTL_SECONDS = 120
_QR_STRUCT = struct.Struct(">QQ")  # diner id, expiry (unix seconds)
_QR_MAC = 16


class TokenError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def qr_make(diner_id: int, *, now_ts: int, ttl: int = QR_TTL_SECONDS) -> str:
    """``MQ1.<payload>.<mac>``: the diner and an expiry, HMAC-SM3 with the "token" key."""
    payload = _QR_STRUCT.pack(diner_id, now_ts + ttl)
    mac = crypto.hmac_sm3("token", QR_CONTEXT + payload)[:_QR_MAC]
    return f"{QR_PREFIX}.{_b64(payload)}.{_b64(mac)}"


def qr_read(token: str, *, now_ts: int) -> int:
    """The diner id inside a valid, unexpired token; ``TokenError`` otherwise."""
    parts = (token or "").strip().split(".")
    if len(parts) != 3 or parts[0] != QR_PREFIX:
        raise TokenError("bad_qr", "二维码无法识别")
    try:
        payload, mac = _unb64(parts[1]), _unb64(parts[2])
    except (ValueError, TypeError):
        raise TokenError("bad_qr", "二维码无法识别") from None
    if len(payload) != _QR_STRUCT.size or len(mac) != _QR_MAC:
        raise TokenError("bad_qr", "二维码无法识别")
    expect = crypto.hmac_sm3("token", QR_CONTEXT + payload)[:_QR_MAC]
    if not crypto.constant_time_equal(mac, expect):
        raise TokenError("bad_qr", "二维码校验失败(可能被篡改)")
    diner_id, expires = _QR_STRUCT.unpack(payload)
    if now_ts >= expires:
        raise TokenError("qr_expired", "二维码已过期, 请刷新后重新出示")
    return int(diner_id)


def looks_like_qr(text: str) -> bool:
    return (text or "").strip().startswith(QR_PREFIX + ".")


def normalise_card(number: str) -> str:
    return "".join(ch for ch in (number or "").strip().upper() if ch.isalnum())


def mask_card(number: str) -> str:
    n = normalise_card(number)
    return n[:2] + "*" * max(0, len(n) - 6) + n[-4:] if len(n) > 6 else "*" * len(n)



# --- rule sets as data (stored as JSON in PricingRule.body) ---------------------------------------


def rule_set_to_dict(rs: RuleSet) -> dict[str, object]:
    return {
        "region": rs.region, "version": rs.version,
        "effective_from": rs.effective_from.isoformat(),
        "effective_to": rs.effective_to.isoformat() if rs.effective_to else None,
        "min_age": rs.min_age,
        "bands": [
            {"min_age": b.min_age, "max_age": b.max_age, "discount_bp": b.discount_bp, "subsidy_fen": b.subsidy_fen,
             "subsidy_threshold_fen": b.subsidy_threshold_fen, "status": b.status, "source": b.source}
            for b in rs.bands
        ],
        "overrides": [
            {"category": o.category, "mode": o.mode, "value": o.value, "cap_exempt": o.cap_exempt,
             "status": o.status, "source": o.source}
            for o in rs.overrides
        ],
        "caps": {"per_meal_fen": rs.caps.per_meal_fen, "per_day_fen": rs.caps.per_day_fen,
                 "per_month_fen": rs.caps.per_month_fen},
        "payer_rule": rs.payer_rule, "second_meal": rs.second_meal, "source": rs.source, "status": rs.status,
    }


class RuleSetError(ValueError):
    def __init__(self, fields: dict[str, str]):
        super().__init__(next(iter(fields.values()), "规则格式有误"))
        self.fields = fields


def _int(value: object, name: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleSetError({name: "须为整数"})
    return value


def _date(value: object, name: str, *, optional: bool = False) -> date | None:
    if value in (None, "") and optional:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RuleSetError({name: "日期格式应为 YYYY-MM-DD"}) from None


def _maps(value: object, name: str) -> list[Mapping[str, Any]]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise RuleSetError({name: "须为对象列表"})
    return value


def rule_set_from_dict(data: Mapping[str, object]) -> RuleSet:
    """Parse and check a rule set; ``RuleSetError`` (field → Chinese message) when it is unusable."""
    if not isinstance(data, Mapping):
        raise RuleSetError({"body": "规则须为对象"})
    try:
        bands = tuple(
            AgeBand(
                min_age=_int(b.get("min_age"), f"bands[{i}].min_age") or 0,
                max_age=_int(b.get("max_age"), f"bands[{i}].max_age", optional=True),
                discount_bp=_int(b.get("discount_bp", 0), f"bands[{i}].discount_bp") or 0,
                subsidy_fen=_int(b.get("subsidy_fen", 0), f"bands[{i}].subsidy_fen") or 0,
                subsidy_threshold_fen=_int(b.get("subsidy_threshold_fen", 0), f"bands[{i}].subsidy_threshold_fen") or 0,
                status=str(b.get("status", RuleStatus.CONFIRMED)),
                source=str(b.get("source", ""))[:200],
            )
            for i, b in enumerate(_maps(data.get("bands"), "bands"))
        )
        overrides = tuple(
            CategoryOverride(
                category=str(o.get("category", "")), mode=str(o.get("mode", "")),
                value=_int(o.get("value", 0), f"overrides[{i}].value") or 0,
                cap_exempt=bool(o.get("cap_exempt", False)),
                status=str(o.get("status", RuleStatus.CONFIRMED)), source=str(o.get("source", ""))[:200],
            )
            for i, o in enumerate(_maps(data.get("overrides"), "overrides"))
        )
        caps_data: Mapping[str, Any] = data.get("caps") or {}  # type: ignore[assignment]
        caps = Caps(
            per_meal_fen=_int(caps_data.get("per_meal_fen"), "caps.per_meal_fen", optional=True),
            per_day_fen=_int(caps_data.get("per_day_fen"), "caps.per_day_fen", optional=True),
            per_month_fen=_int(caps_data.get("per_month_fen"), "caps.per_month_fen", optional=True),
        )
        effective_from = _date(data.get("effective_from"), "effective_from")
        assert effective_from is not None  # noqa: S101 - _date raises for a missing required date
        rs = RuleSet(
            region=str(data.get("region", "")), version=str(data.get("version", ""))[:20],
            effective_from=effective_from,
            effective_to=_date(data.get("effective_to"), "effective_to", optional=True),
            min_age=_int(data.get("min_age", ELDER_AGE), "min_age") or 0,
            bands=bands, overrides=overrides, caps=caps,
            payer_rule=str(data.get("payer_rule", PayerRule.HOME_DISTRICT)),
            second_meal=str(data.get("second_meal", SecondMealPolicy.FULL_PRICE)),
            source=str(data.get("source", ""))[:300], status=str(data.get("status", RuleStatus.CONFIRMED)),
        )
    except (AttributeError, TypeError):
        raise RuleSetError({"body": "规则格式有误"}) from None
    errors = check_rule_set(rs)
    for b in rs.bands:
        if b.status not in RuleStatus.value_set():
            errors["bands"] = "状态取值无效"
    if errors:
        raise RuleSetError(errors)
    return rs


# --- 电子津贴 wallets -------------------------------------------------------------------------------


def unspent_by_grant(balance_fen: int, grants: Iterable[tuple[int, date, int]]) -> dict[int, int]:
    """Which grant the wallet's balance still belongs to. ``grants`` are ``(id, expires_on,
    open_fen)`` with ``open_fen`` = amount − already expired − already clawed back. Spending uses
    the soonest-expiring money first, so the balance is the latest-expiring grants' money."""
    out: dict[int, int] = {}
    left = max(0, balance_fen)
    for gid, _expires, open_fen in sorted(grants, key=lambda g: (g[1], g[0]), reverse=True):
        take = min(left, max(0, open_fen))
        out[gid] = take
        left -= take
    return out
