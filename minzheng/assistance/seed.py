"""The 精准救助 part of the synthetic district (`minzheng seed`), calibrated on the 2023 work summary:
≈ 1.69 亿元 paid to ≈ 27.5 万 person-times, every enrolled object visited monthly (≈ 5.1 万 visits)
with a 幸福清单 each quarter, 482 rescues of people living rough (71 escorted home), 150 homes improved,
20-odd 助联体 projects and ≈ 18,700 高龄津贴 recipients — at scale 1; all proportional below.

How it is built, so that the figures come out of the records rather than being written down:

- households of the registry become 低保 / 低边 families (incomes and assets generated under the
  line), elders living alone or disabled become 特困 persons, children get 儿童生活保障; a share of
  them join during 2023 and a share leave, month by month;
- the twelve months of 2023 are then run through the real services: close the month (the
  高龄津贴 job enrols the registry's 80-year-olds), freeze and compute the roll with the rules engine,
  approve it (a second actor), write the bank file, post it to the ledger; every enrolled object is
  visited each month, the 幸福清单 delivered each quarter;
- one-off 临时救助 and 专项救助 grants fill the year up to the summary's money and person-times: the
  recurring part is computed first with the same rules (a dry run of the year), the rest is spread
  over the months and paid through the same rolls.

Deterministic for a given ``--seed`` (record ids and amounts; roll ids, seals and ciphertexts are
random by design).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from minzheng.assistance import domain
from minzheng.assistance.enums import (
    Program,
    TaskStatus,
)
from minzheng.assistance.models import (
    Application,
    Enrolment,
    EnrolmentMember,
    Grant,
    HappinessDelivery,
    HouseholdEconomy,
    HousingImprovement,
    PayrollLine,
    ProjectBeneficiary,
    RescueCase,
    ServiceProject,
    Visit,
    VisitTask,
)
from minzheng.assistance.services import _common as c
from minzheng.assistance.services import payroll
from minzheng.assistance.services.discovery import outreach_refresh
from minzheng.assistance.services.status_tags import status_tags_sync
from minzheng.assistance.services.visits import visit_plan_generate
from minzheng.core.seeding import SeedContext
from minzheng.divisions.models import Division
from minzheng.people.enums import LivingArrangement, PersonStatus
from minzheng.people.models import Person
from minzheng.rules.engine import ymd

YEAR = 2023
PAID_FEN_AT_SCALE_1 = 169_000_000 * 100  # 1.69 亿元 (assistance programs; 高龄津贴 is reported apart)
PERSON_TIMES_AT_SCALE_1 = 275_000
DIBAO_HOUSEHOLDS = 3_000
DIBIAN_HOUSEHOLDS = 300
TEKUN_PERSONS = 700
CHILDREN = 250  # 4,250 visited objects a month → ≈ 51,000 visits a year (5.1 万)
LINSHI_GRANTS = 3_000
RESCUES, ESCORTED_HOME = 482, 71
HOUSING_HOMES = 150
PROJECTS = 22
NEW_IN_YEAR, LEAVING_IN_YEAR = 0.12, 0.07
PROJECT_NAMES = ("大爱余杭", "康佑计划", "逐梦计划", "春节送温暖", "夏季送清凉", "福彩暖万家·救助直通车", "六一圆梦微心愿",
                 "困境儿童关爱", "独居老人守护", "残疾人康复支持", "就业帮扶加油站", "学业助力", "心理疏导进家庭",
                 "法律援助进村社", "安居暖巢", "助医助残", "爱心食堂", "银龄陪伴", "社工入户", "慈善促富", "邻里互助", "雨露助学")
Progress = Callable[[str, int, int], None]


class SeedActor:
    """Who the seed acts as: two distinct district-level actors, so the rolls' four eyes hold."""

    is_machine = False
    scope_path = "330110000000/"
    division_id = "330110000000"
    role_codes = ("district_admin",)

    def __init__(self, pk: int, username: str):
        self.pk, self.username = pk, username

    def has_permission(self, perm: str) -> bool:
        return True


MAKER = SeedActor(-101, "seed:assistance-maker")
CHECKER = SeedActor(-102, "seed:assistance-checker")


def run(ctx: SeedContext) -> None:
    ctx.stats["assistance"] = seed_assistance(scale=ctx.scale, seed=ctx.seed, progress=ctx.progress)


@dataclass
class Member:
    person_id: int
    relation: str
    birth: dt.date
    hukou: bool
    income_fen: int = 0


@dataclass
class Planned:
    program: str
    person_id: int
    household_id: int | None
    division_id: str
    area_path: str
    start: dt.date
    leave: dt.date | None = None  # first month no longer paid
    members: list[Member] = field(default_factory=list)
    assets_fen: int = 0
    facts: dict[str, Any] = field(default_factory=dict)
    uid: uuid.UUID = field(default_factory=uuid.uuid4)


def _uid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _account(rng: random.Random) -> str:
    return "6228480" + "".join(str(rng.randrange(10)) for _ in range(12))


def _months() -> list[dt.date]:
    return [dt.date(YEAR, m, 1) for m in range(1, 13)]


def _scaled(n: int, scale: float) -> int:
    return max(1, round(n * scale)) if scale > 0 else 0


# ------------------------------------------------------------------------------ choosing people


def _households(rng: random.Random, wanted: int) -> list[list[tuple[Any, ...]]]:
    """Registry households of one to four living members (sampled, deterministic)."""
    ids = list(Person.objects.filter(status=PersonStatus.ACTIVE, household_id__isnull=False)
               .order_by("household_id").values_list("household_id", flat=True).distinct())
    rng.shuffle(ids)
    chosen: list[list[tuple[Any, ...]]] = []
    for start in range(0, len(ids), 4000):
        batch = ids[start:start + 4000]
        members: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in Person.objects.filter(household_id__in=batch, status=PersonStatus.ACTIVE).order_by("id").values_list(
            "household_id", "id", "relation_to_head", "birth_date", "hukou_in_zhejiang", "division_id", "area_path",
            "disability_category",
        ):
            members[row[0]].append(row)
        for hid in batch:
            rows = members.get(hid, [])
            if 1 <= len(rows) <= 4 and any(r[2] == "head" for r in rows):
                chosen.append(sorted(rows, key=lambda r: (r[2] != "head", r[1])))
                if len(chosen) >= wanted:
                    return chosen
    return chosen


def _timeline(rng: random.Random, months: Sequence[dt.date]) -> tuple[dt.date, dt.date | None]:
    if rng.random() < NEW_IN_YEAR:
        start = months[rng.randrange(1, 12)]
    else:
        start = dt.date(rng.randrange(2018, 2023), rng.randrange(1, 13), 1)
    leave = None
    if rng.random() < LEAVING_IN_YEAR:
        later = [m for m in months[1:] if m > start]
        if later:
            leave = rng.choice(later)
    return start, leave


def _plan(rng: random.Random, scale: float) -> list[Planned]:
    months = _months()
    n_dibao, n_dibian = _scaled(DIBAO_HOUSEHOLDS, scale), _scaled(DIBIAN_HOUSEHOLDS, scale)
    planned: list[Planned] = []
    used: set[int] = set()
    households = _households(rng, n_dibao + n_dibian)
    for i, rows in enumerate(households):
        program = Program.DIBAO if i < n_dibao else Program.DIBIAN
        head = rows[0]
        size = len(rows)
        if program == Program.DIBAO:
            per_capita = rng.randrange(0, 90_000)  # under the line: 0–900 元 a head
        else:
            per_capita = rng.randrange(131_000, 225_000)  # between the 低保 line and the 低边 limit
        members = [Member(r[1], r[2] or "other", r[3], bool(r[4])) for r in rows]
        total = per_capita * size
        earners = [m for m in members if 18 <= YEAR - m.birth.year < 65] or members[:1]
        for j, m in enumerate(earners):
            m.income_fen = total // len(earners) + (total % len(earners) if j == 0 else 0)
        start, leave = _timeline(rng, months)
        planned.append(Planned(program, head[1], head[0], head[5], head[6], start, leave, members,
                               assets_fen=rng.randrange(0, 2_000_000) * size, uid=_uid(rng)))
        used.update(r[1] for r in rows)
    cutoff60 = dt.date(YEAR - 60, 1, 1)
    elders = list(Person.objects.filter(status=PersonStatus.ACTIVE, birth_date__lte=cutoff60, birth_date__gt=dt.date(YEAR - 80, 1, 1))
                  .filter(Q(living_arrangement=LivingArrangement.ALONE) | ~Q(disability_category=""))
                  .order_by("id").values_list("id", "household_id", "division_id", "area_path", "disability_category"))
    rng.shuffle(elders)
    for pid, hid, div, path, disability in [e for e in elders if e[0] not in used][: _scaled(TEKUN_PERSONS, scale)]:
        start, leave = _timeline(rng, months)
        planned.append(Planned(Program.TEKUN, pid, hid, div, path, start, leave, facts={
            "disabled": bool(disability), "adl": rng.choice((0, 0, 1, 2, 3, 4, 5, 6))}, uid=_uid(rng)))
        used.add(pid)
    kids_in_families = [(m, p) for p in planned if p.program in (Program.DIBAO, Program.DIBIAN)
                        for m in p.members if YEAR - m.birth.year < 17]
    rng.shuffle(kids_in_families)
    n_children = _scaled(CHILDREN, scale)
    for m, family in kids_in_families[: n_children // 2]:
        category = rng.choice(("4", "5", "5"))
        planned.append(Planned(Program.CHILDREN, m.person_id, family.household_id, family.division_id, family.area_path,
                               family.start, family.leave, facts={"category": category}, uid=_uid(rng)))
        used.add(m.person_id)
    others = list(Person.objects.filter(status=PersonStatus.ACTIVE, birth_date__gt=dt.date(YEAR - 16, 1, 1),
                                        birth_date__lt=dt.date(YEAR - 1, 1, 1))
                  .order_by("id").values_list("id", "household_id", "division_id", "area_path")[:200_000])
    rng.shuffle(others)
    short = n_children - len([p for p in planned if p.program == Program.CHILDREN])
    for pid, hid, div, path in [o for o in others if o[0] not in used][:short]:
        start, leave = _timeline(rng, months)
        planned.append(Planned(Program.CHILDREN, pid, hid, div, path, start, leave,
                               facts={"category": rng.choice(("1", "2", "2"))}, uid=_uid(rng)))
    return planned


# ------------------------------------------------------------------------------------- writing


def _write_enrolments(rng: random.Random, planned: list[Planned]) -> dict[uuid.UUID, int]:
    rows = []
    for p in planned:
        sealed, masked, ref = c.seal_account("enrolment", p.uid, _account(rng))
        covered = dt.date(YEAR - 1, 12, 1) if p.start.year < YEAR else None
        rows.append(Enrolment(
            uid=p.uid, program=p.program, person_id=p.person_id, household_id=p.household_id, division_id=p.division_id,
            area_path=p.area_path, township_code=c.township_code(p.area_path), start_month=p.start,
            covered_through=covered, persons=max(1, len(p.members)), stability="stable",
            next_review_on=dt.date(YEAR + 1, rng.randrange(1, 7), rng.randrange(1, 28)),
            money_assets_fen=p.assets_fen, disabled=bool(p.facts.get("disabled")),
            adl_failed=int(p.facts.get("adl", 0)), care_form="dispersed" if p.program == Program.TEKUN else "",
            child_category=str(p.facts.get("category", "")), bank_name="中国农业银行",
            bank_account_sealed=sealed, bank_account_masked=masked, bank_ref=ref,
            last_trace={"source": "seed"},
        ))
    Enrolment.objects.bulk_create(rows, batch_size=2000)
    ids = dict(Enrolment.objects.filter(uid__in=[p.uid for p in planned]).values_list("uid", "id"))
    EnrolmentMember.objects.bulk_create(
        (EnrolmentMember(enrolment_id=ids[p.uid], person_id=m.person_id, relation=m.relation, income_fen=m.income_fen,
                         able_bodied=18 <= YEAR - m.birth.year < 60)
         for p in planned for m in p.members),
        batch_size=5000,
    )
    return ids


def _snapshot(p: Planned, family: dict[int, int]) -> dict[str, Any]:
    if p.program in (Program.DIBAO, Program.DIBIAN):
        flags = domain.F_CO_RESIDENT
        return {"p": p.program, "m": [[m.relation, ymd(m.birth), m.income_fen, flags | (domain.F_HUKOU * m.hukou), 0, 0]
                                      for m in p.members], "a": [p.assets_fen, 0, 0, 1, 0]}
    birth = _births[p.person_id]
    if p.program == Program.TEKUN:
        return {"p": p.program, "b": ymd(birth), "f": [int(bool(p.facts.get("disabled"))), 0, 0, 0],
                "adl": int(p.facts.get("adl", 0))}
    return {"p": p.program, "b": ymd(birth), "c": int(p.facts["category"]), "fam": family.get(p.person_id, 0)}


_births: dict[int, dt.date] = {}


def _dry_run(planned: list[Planned]) -> tuple[int, int]:
    """What the recurring programs will pay in the year (money, person-times): the same rules.
    Each enrolment's 核定月金额 is set to its amount in the last month it is paid."""
    family = {m.person_id: (1 if p.program == Program.DIBAO else 2) for p in planned
              if p.program in (Program.DIBAO, Program.DIBIAN) for m in p.members}
    _births.update(Person.objects.filter(pk__in=[p.person_id for p in planned]).values_list("id", "birth_date"))
    money = persons = 0
    monthly: dict[uuid.UUID, int] = {}  # each enrolment's amount in its last month paid
    for month in _months():
        live = [p for p in planned if p.start <= month and (p.leave is None or month < p.leave)]
        out = domain.compute([_snapshot(p, family) for p in live], on=month)
        money += int(out.amount_fen.sum())
        persons += int(out.persons[out.amount_fen > 0].sum())
        monthly.update(zip((p.uid for p in live), (int(a) for a in out.amount_fen), strict=True))
    # 核定月金额, as an approval would have set it (payroll computes each month's amount itself)
    rows = list(Enrolment.objects.filter(uid__in=list(monthly)).only("id", "uid"))
    for e in rows:
        e.monthly_fen = monthly[e.uid]
    Enrolment.objects.bulk_update(rows, ["monthly_fen"], batch_size=2000)
    return money, persons


def _grants(rng: random.Random, planned: list[Planned], scale: float, recurring: tuple[int, int]) -> dict[str, int]:
    """临时救助 and 专项救助 for the rest of the year's money and person-times, month by month."""
    target_fen = round(PAID_FEN_AT_SCALE_1 * scale)
    target_pt = round(PERSON_TIMES_AT_SCALE_1 * scale)
    recipients = [(m.person_id, p) for p in planned if p.program in (Program.DIBAO, Program.DIBIAN) for m in p.members]
    recipients += [(p.person_id, p) for p in planned if p.program == Program.TEKUN]
    if not recipients:
        return {}
    plan: list[tuple[str, int, int]] = []  # (program, amount fen, persons)
    for _ in range(_scaled(LINSHI_GRANTS, scale)):
        persons = rng.choice((1, 1, 1, 2, 3))
        cap = min(6 * 121_600 * persons, 800_000)
        plan.append((Program.LINSHI, rng.randrange(50_000, cap) // 100 * 100, persons))
    money_left = target_fen - recurring[0] - sum(a for _p, a, _n in plan)
    pt_left = target_pt - recurring[1] - sum(n for *_x, n in plan)
    if pt_left > 0 and money_left > 0:
        average = money_left // pt_left
        amounts = [max(1_000, int(average * rng.uniform(0.3, 1.7))) // 100 * 100 for _ in range(pt_left)]
        amounts[-1] = max(100, amounts[-1] + money_left - sum(amounts))
        kinds = [Program.MEDICAL] * 80 + [Program.EDUCATION] * 12 + [Program.HOUSING] * 4 + [Program.EMPLOYMENT] * 4
        plan += [(rng.choice(kinds), amount, 1) for amount in amounts]
    months = _months()
    apps, grants = [], []
    people = dict(recipients)
    person_ids = sorted(people)
    for i, (program, amount, persons) in enumerate(plan):
        pid = person_ids[rng.randrange(len(person_ids))]
        owner = people[pid]
        month = months[i % 12]
        app_uid, grant_uid = _uid(rng), _uid(rng)
        day = month + dt.timedelta(days=rng.randrange(0, 20))
        apps.append(Application(
            uid=app_uid, program=program, applicant_id=pid, household_id=owner.household_id,
            division_id=owner.division_id, area_path=owner.area_path, township_code=c.township_code(owner.area_path),
            status="approved", reason="医疗费用支出大" if program == Program.MEDICAL else "突发困难", requested_fen=amount,
            persons=persons, approved_amount_fen=amount, decided_on=day, approver_name=CHECKER.username,
            created_by_name=MAKER.username, decision_eligible=True, decision_amount_fen=amount,
        ))
        sealed, masked, ref = c.seal_account("grant", grant_uid, _account(rng))
        grants.append((grant_uid, app_uid, pid, program, amount, persons, day, month, owner, sealed, masked, ref))
    Application.objects.bulk_create(apps, batch_size=5000)
    app_ids = dict(Application.objects.filter(uid__in=[a.uid for a in apps]).values_list("uid", "id"))
    Grant.objects.bulk_create(
        (Grant(uid=g_uid, application_id=app_ids[a_uid], person_id=pid, program=program, amount_fen=amount,
               persons=persons, approved_on=day, pay_month=month, division_id=owner.division_id,
               area_path=owner.area_path, township_code=c.township_code(owner.area_path), bank_name="中国农业银行",
               bank_account_sealed=sealed, bank_account_masked=masked, bank_ref=ref)
         for g_uid, a_uid, pid, program, amount, persons, day, month, owner, sealed, masked, ref in grants),
        batch_size=5000,
    )
    return {"grants": len(plan), "linshi": _scaled(LINSHI_GRANTS, scale)}


def _accounts_for_new_longevity(rng: random.Random) -> None:
    """高龄津贴 is paid to the 社保卡 on file (data sharing): accounts for the newly enrolled."""
    todo = list(Enrolment.objects.filter(program=Program.LONGEVITY, bank_ref="").order_by("id"))
    for e in todo:
        e.bank_account_sealed, e.bank_account_masked, e.bank_ref = c.seal_account("enrolment", e.uid, _account(rng))
        e.bank_name = "杭州银行(社保卡)"
    Enrolment.objects.bulk_update(todo, ["bank_account_sealed", "bank_account_masked", "bank_ref", "bank_name"],
                                  batch_size=2000)


def _visits(rng: random.Random, month: dt.date) -> int:
    """Every planned visit of the month is made (2023: 100 %); the 幸福清单 goes with the first
    visit of each quarter."""
    visit_plan_generate(actor=None, month=month)
    tasks = list(VisitTask.objects.filter(month=month, status=TaskStatus.PLANNED).order_by("id")
                 .values_list("id", "enrolment_id", "person_id", "area_path", "township_code", "division_code"))
    tz = timezone.get_default_timezone()
    last_day = domain.month_end(month).day
    findings = ("生活稳定,按时领取救助金", "身体状况一般,已提醒按时服药", "居住环境整洁,无安全隐患", "家庭情况无明显变化")
    visits = [Visit(
        uid=_uid(rng), person_id=pid, enrolment_id=eid, division_id=div, area_path=path, township_code=town,
        visited_at=dt.datetime(month.year, month.month, rng.randrange(1, last_day + 1), rng.randrange(8, 18), tzinfo=tz),
        place="home", finding="stable", findings=rng.choice(findings),
        happiness_delivered=month.month in (1, 4, 7, 10), recorded_by_name="seed:caseworker",
    ) for _tid, eid, pid, path, town, div in tasks]
    Visit.objects.bulk_create(visits, batch_size=2000)
    done = []
    for (tid, *_rest), visit in zip(tasks, visits, strict=True):
        done.append(VisitTask(pk=tid, status=TaskStatus.DONE, visit_id=visit.pk))
    VisitTask.objects.bulk_update(done, ["status", "visit"], batch_size=2000)
    if month.month in (1, 4, 7, 10):
        quarter = domain.quarter_of(month)
        HappinessDelivery.objects.bulk_create(
            (HappinessDelivery(enrolment_id=v.enrolment_id or 0, quarter=quarter, delivered_on=v.visited_at.date(), visit=v,
                               area_path=v.area_path, recorded_by_name="seed:caseworker", items="政策告知、服务清单、联系人信息")
             for v in visits), batch_size=2000, ignore_conflicts=True)
    return len(visits)


def _records(rng: random.Random, scale: float, planned: list[Planned]) -> None:
    towns = list(Division.objects.filter(level="township").order_by("code"))
    villages = list(Division.objects.filter(level="village").order_by("code"))
    n_rescue, n_home = _scaled(RESCUES, scale), _scaled(ESCORTED_HOME, scale)
    places = ("火车站广场", "公交站", "桥洞", "农贸市场", "地铁站出口", "公园长椅")
    homes = ("安徽省阜阳市", "河南省周口市", "江西省上饶市", "贵州省毕节市", "四川省南充市", "湖南省邵阳市")
    rescues = []
    for i in range(n_rescue):
        village = villages[rng.randrange(len(villages))]
        found = dt.date(YEAR, 1, 1) + dt.timedelta(days=rng.randrange(365))
        stage = "escorted_home" if i < n_home else rng.choice(("handed_over", "left", "other", "left"))
        rescues.append(RescueCase(
            uid=_uid(rng), division=village, area_path=village.path, township_code=c.township_code(village.path),
            display_name="无名氏" if rng.random() < 0.3 else f"受助人{i + 1:04d}", gender=rng.choice("MMMF"),
            approx_age=rng.randrange(25, 75), found_on=found, found_place=rng.choice(places), stage=stage,
            sheltered_on=found, closed_on=min(found + dt.timedelta(days=rng.randrange(1, 8)), dt.date(YEAR, 12, 31)),
            destination=rng.choice(homes) if stage == "escorted_home" else "", recorded_by_name="seed:救助站",
        ))
    RescueCase.objects.bulk_create(rescues, batch_size=1000)
    persons = [p for p in planned if p.program in (Program.DIBAO, Program.TEKUN)]
    projects = []
    for i in range(max(1, round(PROJECTS * min(scale * 10, 1.0)))):
        town = towns[i % len(towns)] if i >= 3 else Division.objects.get(code="330110000000")
        projects.append(ServiceProject.objects.create(
            division=town, area_path=town.path, township_code=c.township_code(town.path) or "",
            name=PROJECT_NAMES[i % len(PROJECT_NAMES)], provider=rng.choice(("余杭区慈善总会", "余杭区社会工作服务中心",
                                                                             "镇街社工站", "爱心企业联盟")),
            level="district" if i < 3 else "township", need=rng.choice(("medical", "care", "education", "goods")),
            start_on=dt.date(YEAR, rng.randrange(1, 10), 1), end_on=dt.date(YEAR, 12, 31), status="completed",
            budget_fen=rng.randrange(50_000, 500_000) * 100, outcomes="按计划完成服务,受益对象满意度良好",
        ))
    links = set()
    for project in projects:
        local = [p for p in persons if p.area_path.startswith(project.area_path)]
        for p in rng.sample(local, min(len(local), rng.randrange(5, 30))):
            links.add((project.pk, p.person_id))
    ProjectBeneficiary.objects.bulk_create(
        (ProjectBeneficiary(project_id=pr, person_id=pe, joined_on=dt.date(YEAR, 6, 1), outcome="已服务")
         for pr, pe in sorted(links)), batch_size=2000)
    homes_for = [(p, p.household_id) for p in persons if p.household_id][: _scaled(HOUSING_HOMES, scale)]
    HousingImprovement.objects.bulk_create(
        (HousingImprovement(
            household_id=hid, person_id=p.person_id, division_id=p.division_id, area_path=p.area_path,
            township_code=c.township_code(p.area_path), year=YEAR,
            works=rng.choice(("屋顶防漏修缮", "卫生间适老化改造", "电路改造与照明", "墙面地面修缮、防滑处理")),
            budget_fen=rng.randrange(8_000, 30_000) * 100, status="accepted",
            surveyed_on=dt.date(YEAR, rng.randrange(1, 7), 10), completed_on=dt.date(YEAR, rng.randrange(7, 12), 20),
            recorded_by_name="seed") for p, hid in homes_for), batch_size=1000)


def _economy(rng: random.Random, scale: float, planned: list[Planned]) -> None:
    """核对平台 data on households not enrolled: most comfortably above the line, some near it, a few
    under it (应保未保 to be found), some with large medical bills."""
    enrolled = {p.household_id for p in planned if p.household_id}
    ids = list(Person.objects.filter(status=PersonStatus.ACTIVE, household_id__isnull=False)
               .order_by("household_id").values_list("household_id", flat=True).distinct()[:400_000])
    rng.shuffle(ids)
    wanted = _scaled(6_000, scale)
    sizes = dict(Person.objects.filter(household_id__in=ids[: wanted * 2], status=PersonStatus.ACTIVE)
                 .values_list("household_id").annotate(n=Count("id")))
    paths = dict(Person.objects.filter(household_id__in=ids[: wanted * 2], relation_to_head="head")
                 .values_list("household_id", "area_path"))
    rows: list[HouseholdEconomy] = []
    for hid in ids[: wanted * 2]:
        if hid in enrolled or hid not in paths or len(rows) >= wanted:
            continue
        members = sizes.get(hid, 1)
        roll = rng.random()
        per_capita = rng.randrange(60_000, 125_000) if roll < 0.05 else rng.randrange(126_000, 230_000) \
            if roll < 0.35 else rng.randrange(230_000, 900_000)
        rows.append(HouseholdEconomy(
            household_id=hid, area_path=paths[hid], township_code=c.township_code(paths[hid]), members=members,
            income_total_fen=per_capita * members, money_assets_fen=rng.randrange(0, 20_000_000),
            medical_costs_12m_fen=rng.randrange(2_000_000, 8_000_000) if rng.random() < 0.08 else rng.randrange(0, 300_000),
            as_of=dt.date(YEAR, 12, 31), source="核对平台",
        ))
    HouseholdEconomy.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)


# ------------------------------------------------------------------------------------- the year


def seed_assistance(*, scale: float, seed: int, progress: Progress | None = None) -> dict[str, Any]:
    report = progress or (lambda label, done, total: None)
    rng = random.Random(f"{seed}:assistance")
    if scale <= 0 or not Person.objects.exists():
        return {}
    months = _months()
    with transaction.atomic():
        planned = _plan(rng, scale)
        _write_enrolments(rng, planned)
        recurring = _dry_run(planned)
        grant_stats = _grants(rng, planned, scale, recurring)
    payroll.ensure_accounts(())
    needed = round(PAID_FEN_AT_SCALE_1 * scale * 1.25) + round(18_700 * scale * 7_000 * 12)
    payroll.fund_allocate(actor=MAKER, amount_fen=needed, key=f"seed:{seed}:{scale}:{Enrolment.objects.count()}",
                          memo="2023年社会救助资金(种子数据)")
    leaving = defaultdict(list)
    uids = dict(Enrolment.objects.filter(uid__in=[p.uid for p in planned]).values_list("uid", "id"))
    for p in planned:
        if p.leave:
            leaving[p.leave].append(uids[p.uid])
    visits = 0
    for i, month in enumerate(months):
        if leaving.get(month):
            Enrolment.objects.filter(pk__in=leaving[month]).update(
                status="terminated", exit_reason=rng.choice(("income_above", "income_above", "voluntary", "assets_above")),
                exit_note="动态复核后退出(种子数据)", exited_on=month, end_month=domain.add_months(month, -1))
        payroll.period_close(actor=MAKER, month=month)
        _accounts_for_new_longevity(rng)
        roll = payroll.payroll_create(actor=MAKER, month=month)
        roll = payroll.payroll_freeze(actor=MAKER, roll=roll)
        roll = payroll.payroll_approve(actor=CHECKER, roll=roll)
        payroll.payroll_bank_file(actor=MAKER, roll=roll)
        payroll.payroll_pay(actor=MAKER, roll=roll)
        with transaction.atomic():
            visits += _visits(rng, month)
        report("救助发放与探访(2023)", i + 1, len(months))
    with transaction.atomic():
        _records(rng, scale, planned)
        _economy(rng, scale, planned)
    status_tags_sync()  # the registry learns who is 低保/低边/特困
    outreach_refresh(actor=None, on=dt.date(YEAR, 12, 31))
    return figures() | {"dry_run_recurring_fen": recurring[0], "one_off": grant_stats, "visits_made": visits}


def figures(year: int = YEAR) -> dict[str, Any]:
    """The year's figures counted from the records (what the cockpit will show)."""
    paid = PayrollLine.objects.filter(for_month__year=year).paid()
    assistance = paid.exclude(program=Program.LONGEVITY)
    agg = assistance.aggregate(fen=Sum("total_fen"), persons=Sum("persons"))
    dec = dt.date(year, 12, 1)
    return {
        "paid_fen": agg["fen"] or 0,
        "paid_yuan": (agg["fen"] or 0) // 100,
        "person_times": agg["persons"] or 0,
        "longevity_recipients_december": paid.filter(program=Program.LONGEVITY, for_month=dec).count(),
        "longevity_paid_fen": paid.filter(program=Program.LONGEVITY).aggregate(s=Sum("total_fen"))["s"] or 0,
        "visits": Visit.objects.filter(visited_at__year=year).count(),
        "visit_rate": _rate(VisitTask.objects.filter(month__year=year)),
        "happiness_deliveries": HappinessDelivery.objects.filter(quarter__startswith=str(year)).count(),
        "rescues": RescueCase.objects.filter(found_on__year=year).count(),
        "escorted_home": RescueCase.objects.filter(found_on__year=year, stage="escorted_home").count(),
        "housing_homes": HousingImprovement.objects.filter(year=year).count(),
        "projects": ServiceProject.objects.filter(start_on__year=year).count(),
        "by_program": {p: {"fen": f or 0, "person_times": n or 0} for p, f, n in assistance.values_list("program")
                       .annotate(f=Sum("total_fen"), n=Sum("persons")).order_by("program")},
    }


def _rate(tasks: Any) -> float:
    total = tasks.exclude(status=TaskStatus.CANCELLED).count()
    return 1.0 if total == 0 else tasks.filter(status=TaskStatus.DONE).count() / total
