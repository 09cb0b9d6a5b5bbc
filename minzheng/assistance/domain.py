"""Pure rules of 精准救助 (no Django): months and working-day deadlines, the application state
machine, authority limits, masking for 公示, input checks, payroll snapshots, their seals and the
vectorised monthly computation (on ``minzheng.rules``), review schedules and the outreach risk score.

Eligibility and amounts are never computed here: they come from ``minzheng.rules.programs``; this
module only turns frozen snapshots into the arrays those programs take and back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import chinese_calendar
import numpy as np
import orjson
from numpy.typing import NDArray

from minzheng.assistance.enums import (
    ApplicationStatus,
    ChildCategory,
    Program,
    Stability,
)
from minzheng.core import crypto
from minzheng.core.exceptions import ValidationFailed
from minzheng.core.identifiers import mask_name  # noqa: F401 - part of this module's API
from minzheng.rules.engine import ymd
from minzheng.rules.parameters import ParameterSet, default_parameters
from minzheng.rules.population import HouseholdArrays, PersonArrays, Population
from minzheng.rules.programs import children, dibao, dibian, longevity, tekun
from minzheng.rules.programs.household import RELATION_CODES, compose_many

# --------------------------------------------------------------------------------------- months


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + (month.month - 1) + n
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(month: dt.date) -> dt.date:
    return add_months(month_start(month), 1) - dt.timedelta(days=1)


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month start from ``first`` to ``last`` inclusive (empty when last < first)."""
    out: list[dt.date] = []
    m = month_start(first)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


def parse_month(value: Any, field: str = "month") -> dt.date:
    """``2024-06`` or a date → the first of that month; anything else → ValidationFailed."""
    if isinstance(value, dt.date):
        return month_start(value)
    text = str(value or "").strip()
    m = re.fullmatch(r"(\d{4})-(\d{1,2})(?:-\d{1,2})?", text)
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2100:
        raise ValidationFailed({field: "月份格式应为 YYYY-MM"}, code="bad_month")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def month_label(month: dt.date) -> str:
    return f"{month.year}-{month.month:02d}"


def quarter_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_months(quarter: str) -> list[dt.date]:
    year, q = int(quarter[:4]), int(quarter[-1])
    first = dt.date(year, 3 * (q - 1) + 1, 1)
    return [first, add_months(first, 1), add_months(first, 2)]


# ---------------------------------------------------------------------------- working-day clock

PRELIM_WORKING_DAYS = 15  # 乡镇/街道 investigate and give 初审 within 15 WD of acceptance [S8 §11]
PUBLICITY_DAYS = 7  # 公示 7 calendar days in the village/community [S8 §11]
REVIEW_WORKING_DAYS = 5  # 县级民政 approves within 5 WD after 公示 [S8 §11]
DENIAL_NOTICE_WORKING_DAYS = 3  # written reasons for a refusal within 3 WD [S25]
EMERGENCY_DOCS_WORKING_DAYS = 5  # 先行救助: paperwork completed within 5 WD (assumption, business_rules §9)


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """(working day?, estimated?). Statutory holidays and make-up working days come from
    chinese-calendar; for a year it does not know yet the answer falls back to Monday–Friday and
    says so (the deadline is then shown as estimated)."""
    try:
        return bool(chinese_calendar.is_workday(day)), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: dt.date, n: int) -> tuple[dt.date, bool]:
    """The ``n``-th working day after ``start`` (the day of receipt itself is not counted)."""
    if n < 0:
        raise ValueError("n must be ≥ 0")
    day, left, estimated = start, n, False
    while left > 0:
        day += dt.timedelta(days=1)
        working, guessed = is_working_day(day)
        estimated |= guessed
        if working:
            left -= 1
    return day, estimated


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end ≤ start)."""
    count, day = 0, start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day)[0]:
            count += 1
    return count


@dataclass(frozen=True)
class Deadline:
    label: str
    due: dt.date
    estimated: bool = False

    def overdue(self, today: dt.date) -> bool:
        return today > self.due


def prelim_deadline(accepted_on: dt.date) -> Deadline:
    due, est = add_working_days(accepted_on, PRELIM_WORKING_DAYS)
    return Deadline("初审(受理后15个工作日)", due, est)


def publicity_end(start: dt.date) -> dt.date:
    """公示 runs 7 calendar days: started on the 1st, it ends at the close of the 7th."""
    return start + dt.timedelta(days=PUBLICITY_DAYS - 1)


def review_deadline(publicity_ended: dt.date) -> Deadline:
    due, est = add_working_days(publicity_ended, REVIEW_WORKING_DAYS)
    return Deadline("审批(公示期满后5个工作日)", due, est)


def denial_notice_deadline(decided_on: dt.date) -> Deadline:
    due, est = add_working_days(decided_on, DENIAL_NOTICE_WORKING_DAYS)
    return Deadline("书面告知不予批准理由(3个工作日)", due, est)


def emergency_docs_deadline(paid_on: dt.date) -> Deadline:
    due, est = add_working_days(paid_on, EMERGENCY_DOCS_WORKING_DAYS)
    return Deadline("先行救助后补齐材料(5个工作日)", due, est)


# ----------------------------------------------------------------------------- state machine

S = ApplicationStatus
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "submit": (frozenset({S.DRAFT}), S.SUBMITTED),
    "accept": (frozenset({S.SUBMITTED}), S.ACCEPTED),
    "not_accept": (frozenset({S.SUBMITTED}), S.NOT_ACCEPTED),
    "start_check": (frozenset({S.ACCEPTED}), S.ECON_CHECK),
    "complete_check": (frozenset({S.ECON_CHECK}), S.INVESTIGATION),
    "investigate": (frozenset({S.INVESTIGATION}), S.INVESTIGATION),  # recorded; moves on with publicize
    "publicize": (frozenset({S.INVESTIGATION}), S.PUBLICITY),
    "objection": (frozenset({S.PUBLICITY}), S.INVESTIGATION),
    "close_publicity": (frozenset({S.PUBLICITY}), S.REVIEW),
    "approve": (frozenset({S.REVIEW}), S.APPROVED),
    "deny": (frozenset({S.REVIEW, S.INVESTIGATION, S.ECON_CHECK}), S.DENIED),
    "withdraw": (frozenset({S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.ECON_CHECK, S.INVESTIGATION}), S.WITHDRAWN),
    "emergency_pay": (frozenset({S.SUBMITTED, S.ACCEPTED}), S.EMERGENCY_PAID),
    "complete_emergency": (frozenset({S.EMERGENCY_PAID}), S.APPROVED),
}


ACTION_LABELS = {
    "create": "登记申请", "submit": "提交申请", "accept": "受理", "not_accept": "不予受理", "start_check": "开始经济状况核对",
    "complete_check": "完成核对", "investigate": "入户调查", "publicize": "开始公示", "objection": "公示异议",
    "close_publicity": "公示期满", "approve": "批准", "deny": "不予批准", "withdraw": "撤回",
    "emergency_pay": "先行救助", "complete_emergency": "补齐材料办结",
}


def next_status(action: str, current: str) -> str | None:
    """The status ``action`` leads to from ``current``, or None when it is not allowed there."""
    allowed, target = TRANSITIONS[action]
    return target if current in allowed else None


# ------------------------------------------------------------------------ authority and levels

LEVEL_DISTRICT, LEVEL_TOWNSHIP, LEVEL_COMMUNITY = "district", "township", "community"
LEVEL_LABELS = {LEVEL_DISTRICT: "区级", LEVEL_TOWNSHIP: "街道(镇)", LEVEL_COMMUNITY: "社区(村)"}
# 临时救助 small amounts may be approved by the 乡镇/街道 (S8 §40); the threshold is not published
# for 余杭: assumption ≤ 3 months of the 低保 standard per case (business_rules §1.5 and §10 item 6).
LINSHI_TOWNSHIP_LIMIT_MONTHS = 3
# 专项救助 in kind or small sums are handled by the 乡镇/街道 up to the same threshold (assumption).
SPECIAL_TOWNSHIP_LIMIT_MONTHS = 3


def actor_level(scope_path: str) -> str:
    depth = len([p for p in (scope_path or "").split("/") if p])
    return LEVEL_DISTRICT if depth <= 1 else LEVEL_TOWNSHIP if depth == 2 else LEVEL_COMMUNITY


def approval_level(program: str, amount_fen: int | None, standard_fen: int) -> str:
    """Who decides: 低保/低边/特困/儿童 the district (县级民政 审批, S8 §11); one-off grants the
    township up to a threshold, the district above it."""
    if program == Program.LINSHI:
        limit = LINSHI_TOWNSHIP_LIMIT_MONTHS * standard_fen
        return LEVEL_TOWNSHIP if (amount_fen or 0) <= limit else LEVEL_DISTRICT
    if program in (Program.MEDICAL, Program.EDUCATION, Program.HOUSING, Program.EMPLOYMENT):
        limit = SPECIAL_TOWNSHIP_LIMIT_MONTHS * standard_fen
        return LEVEL_TOWNSHIP if (amount_fen or 0) <= limit else LEVEL_DISTRICT
    return LEVEL_DISTRICT


def may_decide(actor_scope: str, required: str) -> bool:
    level = actor_level(actor_scope)
    if required == LEVEL_DISTRICT:
        return level == LEVEL_DISTRICT
    return level in (LEVEL_DISTRICT, LEVEL_TOWNSHIP)


def township_of(area_path: str) -> str:
    parts = [p for p in (area_path or "").split("/") if p]
    return parts[1] if len(parts) > 1 else ""


# ---------------------------------------------------------------------------------- masking


def mask_account(account: str) -> str:
    digits = re.sub(r"\s", "", account or "")
    return "*" * max(len(digits) - 4, 0) + digits[-4:] if digits else ""


_FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LONG_DIGITS = re.compile(r"\d{12,}")


def contains_full_identifier(text: str) -> bool:
    """A full ID number or anything that looks like a bank account number (12+ digits)."""
    return bool(_FULL_ID.search(text) or _LONG_DIGITS.search(text))


# ------------------------------------------------------------------------------- input checks

MAX_MONTHLY_INCOME_FEN = 10_000_000  # 10 万元 a month for one item: beyond it, a typo, not a poor household
MAX_ASSET_FEN = 100_000_000_000  # 10 亿元
MAX_GRANT_FEN = 10_000_000  # 10 万元 for a one-off grant
MAX_TEXT = 2000


def yuan_to_fen(value: Any, field: str, *, maximum: int, allow_zero: bool = True) -> int:
    """``"1234.5"`` / ``1234`` / ``Decimal`` (yuan) → fen, exactly; negative, fractional fen,
    absurd and non-numeric values are refused with a message naming the field."""
    if isinstance(value, bool) or value is None:
        raise ValidationFailed({field: "请填写金额"}, code="bad_amount")
    if isinstance(value, float):
        raise ValidationFailed({field: "金额不接受浮点数,请以元为单位填写(最多两位小数)"}, code="bad_amount")
    text = str(value).strip().replace(",", "").replace("，", "")
    if not text:
        raise ValidationFailed({field: "请填写金额"}, code="bad_amount")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationFailed({field: "金额格式不正确"}, code="bad_amount") from None
    if not amount.is_finite():
        raise ValidationFailed({field: "金额格式不正确"}, code="bad_amount")
    if amount < 0:
        raise ValidationFailed({field: "金额不能为负数"}, code="negative_amount")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValidationFailed({field: "金额最多两位小数"}, code="bad_amount")
    result = int(fen)
    if result == 0 and not allow_zero:
        raise ValidationFailed({field: "金额必须大于0"}, code="bad_amount")
    if result > maximum:
        raise ValidationFailed({field: f"金额超出合理范围(不超过 {maximum // 100:,} 元),请核实"}, code="absurd_amount")
    return result


def check_fen(value: Any, field: str, *, maximum: int) -> int:
    """An amount already in fen (API callers): an int, 0 ≤ value ≤ maximum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed({field: "金额必须是以分为单位的整数"}, code="bad_amount")
    if value < 0:
        raise ValidationFailed({field: "金额不能为负数"}, code="negative_amount")
    if value > maximum:
        raise ValidationFailed({field: f"金额超出合理范围(不超过 {maximum // 100:,} 元),请核实"}, code="absurd_amount")
    return value


def clean_text(value: Any, field: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str:
    text = str(value or "").strip()
    if "\x00" in text:
        raise ValidationFailed({field: "含有非法字符"}, code="bad_text")
    if required and not text:
        raise ValidationFailed({field: "必填"}, code="required")
    if len(text) > max_len:
        raise ValidationFailed({field: f"不超过{max_len}个字"}, code="too_long")
    return text


# ------------------------------------------------------------------------------- attachments

ATTACHMENT_TYPES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
ATTACHMENT_EXTENSIONS = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}


def check_attachment(filename: str, content: bytes, *, max_bytes: int) -> tuple[str, str]:
    """(safe file name, content type) judged by the bytes, not by what the browser claimed.

    Only PDF, JPEG and PNG; empty, oversized, disguised (``.pdf`` holding HTML) files are refused.
    """
    name = re.sub(r"[\\/\x00-\x1f]", "_", (filename or "").strip())[-120:] or "附件"
    size = len(content)
    if size == 0:
        raise ValidationFailed({"file": "文件为空"}, code="empty_file")
    if size > max_bytes:
        raise ValidationFailed({"file": f"文件不能超过 {max_bytes // (1024 * 1024)} MB"}, code="file_too_large")
    for ctype, magics in ATTACHMENT_TYPES.items():
        if any(content.startswith(m) for m in magics):
            if not name.lower().endswith(ATTACHMENT_EXTENSIONS[ctype]):
                raise ValidationFailed({"file": "文件扩展名与内容不符"}, code="file_type_mismatch")
            return name, ctype
    raise ValidationFailed({"file": "只接受 PDF、JPG、PNG 格式的文件"}, code="file_type_not_allowed")


# --------------------------------------------------------------------------- review schedule

REVIEW_MONTHS = {Stability.STABLE: 12, Stability.UNSTABLE: 6}  # [S26, S27]
GRACE_MONTHS = 6  # 渐退期: assumption (business_rules §1.3), job income disregarded meanwhile
JOB_DISREGARD_CAP_MONTHS = 3  # up to 3 × standard a month of new job income not counted [S8 §50]


def next_review(on: dt.date, stability: str) -> dt.date:
    months = REVIEW_MONTHS.get(Stability(stability), 6)
    return add_months(month_start(on), months) + (on - month_start(on))


def stability_for(*, able_bodied_members: int, income_irregular: bool) -> str:
    return Stability.UNSTABLE if able_bodied_members > 0 or income_irregular else Stability.STABLE


# ---------------------------------------------------------------------- payroll snapshots

SEAL_CONTEXT = b"minzheng.assistance.payroll.line.v2\n"  # v2: the line's own ids (v1 sealed the rows' uids)
SEAL_KEY = "audit"  # core.crypto key; domain-separated from the audit chain and the ledger MACs

# Member flags in a household snapshot (bit positions).
F_STUDENT, F_CANNOT_LIVE, F_CO_RESIDENT, F_HUKOU, F_DISREGARD = 1, 2, 4, 8, 16


def member_flags(*, student: bool, cannot_live_independently: bool, co_resident: bool, hukou: bool,
                 disregard_job: bool) -> int:
    return (F_STUDENT * student) | (F_CANNOT_LIVE * cannot_live_independently) | (F_CO_RESIDENT * co_resident) \
        | (F_HUKOU * hukou) | (F_DISREGARD * disregard_job)


def countable_income(income_fen: int, job_income_fen: int, *, disregard: bool, cap_fen: int) -> int:
    """A member's income for the means test: other income plus new-job income, less up to
    ``cap_fen`` of the latter while the 渐退 disregard runs (S8 §50)."""
    if disregard and job_income_fen > 0:
        job_income_fen -= min(job_income_fen, cap_fen)
    return income_fen + job_income_fen


def canonical(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: byte for byte what ``json.dumps(value, sort_keys=True,
    ensure_ascii=False, separators=(",", ":")).encode()`` gives for the ints, strings, lists and
    dicts a snapshot holds (sealed digests depend on it; tested), at a tenth of the cost."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class LineSealInput:
    payment_key: str
    roll: str
    beneficiary: str  # beneficiary_ref(enrolment id, grant id)
    person: str  # the payee's person id
    program: str
    kind: str
    for_month: str  # YYYY-MM
    persons: int
    amount_fen: int
    adjustment_fen: int
    total_fen: int

    def header(self) -> bytes:
        return line_header(self.payment_key, self.roll, self.beneficiary, self.person, self.program, self.kind,
                           self.for_month, self.persons, self.amount_fen, self.adjustment_fen, self.total_fen)


HEADER_FIELDS = 11


def beneficiary_ref(enrolment_id: int | None, grant_id: int | None) -> str:
    """What the seal binds a line's payee to: its own enrolment and grant columns, as stored, so
    that checking a seal reads the line alone (re-pointing either column breaks the seal)."""
    return f"{enrolment_id or ''}/{grant_id or ''}"


def line_header(key: str, roll: str, beneficiary: str, person: str, program: str, kind: str, month: str,
                persons: int, amount: int, adjustment: int, total: int) -> bytes:
    """A line's identity and amounts, ``|``-separated in a fixed order; a ``|`` inside a field would
    make it ambiguous, so it is refused."""
    header = f"{key}|{roll}|{beneficiary}|{person}|{program}|{kind}|{month}|{int(persons)}|{int(amount)}|{int(adjustment)}|{int(total)}"
    if header.count("|") != HEADER_FIELDS - 1:
        raise ValueError("a sealed field holds '|'")
    return header.encode()


SNAPSHOT_CONTEXT = b"minzheng.assistance.payroll.snapshot.v1\n"


def snapshot_digest(snapshot_json: bytes) -> bytes:
    """SM3 of a snapshot's canonical JSON (``canonical(snapshot)``)."""
    return crypto.sm3(SNAPSHOT_CONTEXT + snapshot_json)


def line_seal(line: LineSealInput, digest: bytes) -> bytes:
    """HMAC-SM3 over the line's header (identity and every amount) and its snapshot's digest."""
    return seal_header(line.header(), digest)


def seal_header(header: bytes, digest: bytes) -> bytes:
    return crypto.hmac_sm3(SEAL_KEY, SEAL_CONTEXT + header + b"\n" + bytes(digest))


def line_sealer() -> Callable[[bytes, bytes], bytes]:
    """``seal_header`` for the many lines of a roll, with the key set up once."""
    mac = crypto.hmac_sm3_under(SEAL_KEY, SEAL_CONTEXT)
    return lambda header, digest: mac(header + b"\n" + bytes(digest))


def seals_digest(seals: Iterable[bytes]) -> bytes:
    """One SM3 over all seals in line order: what the approver signs off."""
    return crypto.sm3(b"".join(bytes(s) for s in seals))


@dataclass(frozen=True)
class Computed:
    eligible: NDArray[np.bool_]
    amount_fen: NDArray[np.int64]
    persons: NDArray[np.int64]


def _household_population(rows: Sequence[Mapping[str, Any]], disregard_cap_fen: int) -> Population:
    """Snapshots → the rules' array form. A member's countable income is the other income plus the
    new-job income, less up to ``disregard_cap_fen`` of the latter while the 渐退 disregard runs."""
    relation, birth, flags, away, income = [], [], [], [], []
    household: list[int] = []
    for i, snap in enumerate(rows):
        members = snap["m"]
        if not members:
            # Keep the household (rules need a person per household) with someone who never counts.
            members = [["other", 19000101, 0, 0, 3, 0]]
        for rel, b, inc, fl, aw, *rest in members:
            household.append(i)
            relation.append(RELATION_CODES.get(rel, RELATION_CODES["other"]))
            birth.append(b)
            flags.append(fl)
            away.append(aw)
            job = rest[0] if rest else 0
            income.append(countable_income(inc, job, disregard=bool(fl & F_DISREGARD), cap_fen=disregard_cap_fen))
    fl_arr = np.asarray(flags, dtype=np.int64)
    persons = PersonArrays(
        household=np.asarray(household, dtype=np.int64),
        birth_ymd=np.asarray(birth, dtype=np.int64),
        relation=np.asarray(relation, dtype=np.int8),
        student=(fl_arr & F_STUDENT) > 0,
        cannot_live_independently=(fl_arr & F_CANNOT_LIVE) > 0,
        co_resident=(fl_arr & F_CO_RESIDENT) > 0,
        away=np.asarray(away, dtype=np.int8),
        zhejiang_hukou=(fl_arr & F_HUKOU) > 0,
        income_fen=np.asarray(income, dtype=np.int64),
    )
    assets = np.asarray([snap["a"] for snap in rows], dtype=np.int64).reshape(len(rows), 5)
    hh = HouseholdArrays(
        township=np.zeros(len(rows), dtype=np.int64),
        money_assets_fen=assets[:, 0],
        vehicles=assets[:, 1],
        vehicle_value_fen=assets[:, 2],
        housing_ok=assets[:, 3] > 0,
        business_capital_fen=assets[:, 4],
    )
    return Population(persons, hh, ("330110000000",))


def compute(rows: Sequence[Mapping[str, Any]], *, on: dt.date, params: ParameterSet | None = None) -> Computed:
    """Eligibility, monthly amount and persons covered for each snapshot, vectorised per program.

    Each program runs through its ``minzheng.rules`` kernel once for all rows of that program; one-off
    grants carry their approved amount. The result is in the input order.
    """
    params = params or default_parameters()
    n = len(rows)
    eligible = np.zeros(n, dtype=np.bool_)
    amount = np.zeros(n, dtype=np.int64)
    persons = np.ones(n, dtype=np.int64)
    groups: dict[str, list[int]] = {}
    for i, snap in enumerate(rows):
        groups.setdefault(snap["p"], []).append(i)
    region = "330110"
    for program, idx_list in groups.items():
        idx = np.asarray(idx_list, dtype=np.int64)
        sub = [rows[i] for i in idx_list]
        if program in (Program.DIBAO, Program.DIBIAN):
            dp = dibao.DibaoParams.resolve(params, on, region)
            pop = _household_population(sub, JOB_DISREGARD_CAP_MONTHS * dp.standard.value)
            totals = compose_many(pop, on=on)
            d = dibao.many(pop, dp, on=on, totals=totals)
            if program == Program.DIBAO:
                eligible[idx], amount[idx] = d.eligible, d.amount_fen
            else:
                b = dibian.many(pop, dibian.DibianParams.resolve(params, on, region), on=on, totals=totals,
                                dibao_outcome=d)
                eligible[idx], amount[idx] = b.eligible, b.amount_fen
            persons[idx] = totals.members
        elif program == Program.TEKUN:
            f = np.asarray([s["f"] for s in sub], dtype=np.bool_).reshape(len(sub), 4)
            arrays = tekun.TekunArrays(
                birth_ymd=np.asarray([s["b"] for s in sub], dtype=np.int64),
                disabled=f[:, 0], able_to_work=f[:, 1], has_income_source=f[:, 2], has_capable_supporter=f[:, 3],
                adl_failed_count=np.asarray([s["adl"] for s in sub], dtype=np.int64),
            )
            r = tekun.evaluate_many(arrays, on=on, params=params)
            eligible[idx], amount[idx] = r.eligible, r.amount_fen
        elif program == Program.LONGEVITY:
            r = longevity.evaluate_arrays(
                np.asarray([s["b"] for s in sub], dtype=np.int64),
                np.asarray([bool(s["h"]) for s in sub], dtype=np.bool_), on=on, params=params,
            )
            eligible[idx], amount[idx] = r.eligible, r.amount_fen
        elif program == Program.CHILDREN:
            r = children.evaluate_many(children.ChildArrays(
                birth_ymd=np.asarray([s["b"] for s in sub], dtype=np.int64),
                category=np.asarray([int(s["c"]) for s in sub], dtype=np.int64),
                family=np.asarray([s["fam"] for s in sub], dtype=np.int64),
            ), on=on, params=params)
            eligible[idx], amount[idx] = r.eligible, r.amount_fen
        else:  # one-off grants: the approved amount, decided (and capped) at approval
            eligible[idx] = True
            amount[idx] = np.asarray([s["amt"] for s in sub], dtype=np.int64)
            persons[idx] = np.asarray([s.get("n", 1) for s in sub], dtype=np.int64)
    return Computed(eligible, amount, persons)


def longevity_snapshot(birth: dt.date, hukou: bool) -> dict[str, Any]:
    return {"p": Program.LONGEVITY.value, "b": ymd(birth), "h": int(bool(hukou))}


def child_category_code(value: str) -> int:
    return int(ChildCategory(value).value)


# ---------------------------------------------------------------------------- adjustments

def apply_adjustments(amount_fen: int, adjustments: Sequence[int]) -> tuple[int, int, int]:
    """(total paid, adjustment used, carried forward). Supplements add; recoveries (negative) are
    taken from this month's amount but never below zero — the rest carries to the next roll."""
    adj = sum(adjustments)
    total = amount_fen + adj
    if total >= 0:
        return total, adj, 0
    return 0, -amount_fen, total  # total < 0 is what is still owed back


# ------------------------------------------------------------------------------- risk score

# Outreach weights (assumption: a first cut agreed with the 救助科; tune with field outcomes).
W_BELOW_LINE = 50  # per-capita income below the 低保 standard and not enrolled: 应保未保
W_NEAR_LINE = 30  # below the 低边 limit (2 × standard, capped by the minimum wage)
W_SEVERE_DISABILITY = 20  # grade 1-2
W_DISABILITY = 10
W_SERIOUS_ILLNESS = 20
W_ELDER_ALONE = 15  # 70+ living alone
W_MEDICAL = 20  # 12-month medical self-pay above 12 × the 低保 standard
W_SIGNAL = 10  # per care signal from another module in the last 90 days (max 2)
OUTREACH_THRESHOLD = 40

REASONS = (
    (1, "人均收入低于低保标准,尚未纳入保障"),
    (2, "人均收入低于低边标准"),
    (4, "家中有重度残疾人(一、二级)"),
    (8, "家中有残疾人"),
    (16, "家中有重大疾病患者"),
    (32, "70岁以上独居老人"),
    (64, "近一年医疗自付费用较高"),
    (128, "其他业务发现的关爱信号"),
)


@dataclass(frozen=True)
class RiskInputs:
    members: NDArray[np.int64]
    income_total_fen: NDArray[np.int64]  # -1 when unknown
    severe_disability: NDArray[np.bool_]
    disability: NDArray[np.bool_]
    serious_illness: NDArray[np.bool_]
    elder_alone: NDArray[np.bool_]
    medical_costs_fen: NDArray[np.int64]
    signals: NDArray[np.int64]


def risk_scores(x: RiskInputs, *, standard_fen: int, dibian_limit_fen: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(score, reason bits) per household, vectorised. Income comparisons are exact (no division)."""
    members = np.maximum(x.members, 1)
    known = x.income_total_fen >= 0
    below = known & (x.income_total_fen < standard_fen * members)
    near = known & ~below & (x.income_total_fen <= dibian_limit_fen * members)
    medical = x.medical_costs_fen > 12 * standard_fen
    severe = x.severe_disability
    other_disability = x.disability & ~severe
    signals = np.minimum(x.signals, 2)
    score = (
        W_BELOW_LINE * below + W_NEAR_LINE * near + W_SEVERE_DISABILITY * severe + W_DISABILITY * other_disability
        + W_SERIOUS_ILLNESS * x.serious_illness + W_ELDER_ALONE * x.elder_alone + W_MEDICAL * medical
        + W_SIGNAL * signals
    ).astype(np.int64)
    bits = (
        1 * below + 2 * near + 4 * severe + 8 * other_disability + 16 * x.serious_illness + 32 * x.elder_alone
        + 64 * medical + 128 * (signals > 0)
    ).astype(np.int64)
    return score, bits


def reason_labels(bits: int) -> list[str]:
    return [label for bit, label in REASONS if bits & bit]


# -------------------------------------------------------------------------- application input

def is_application_status(value: str) -> bool:
    return value in ApplicationStatus.value_set()
