"""Proactive discovery: the risk score and its reasons, the worklist, signals from other modules,
and the what-if over the district."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from minzheng.assistance import domain
from minzheng.assistance.models import CareSignal, HouseholdEconomy, OutreachCase
from minzheng.assistance.selectors import coverage_report, outreach_list
from minzheng.assistance.services import discovery as d
from minzheng.assistance.tests.conftest import COMMUNITY_A, COMMUNITY_B
from minzheng.assistance.tests.test_payroll import enrol
from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.people.events import CareSignalRaised


def test_the_score_is_explained_by_its_reasons():
    x = domain.RiskInputs(
        members=np.array([2, 1, 1, 3]), income_total_fen=np.array([200_000, -1, 200_000, 1_000_000]),
        severe_disability=np.array([False, True, False, False]), disability=np.array([False, True, True, False]),
        serious_illness=np.array([True, False, False, False]), elder_alone=np.array([False, True, False, False]),
        medical_costs_fen=np.array([2_000_000, 0, 0, 0]), signals=np.array([0, 3, 0, 0]),
    )
    score, bits = domain.risk_scores(x, standard_fen=125_900, dibian_limit_fen=228_000)
    assert score.tolist() == [50 + 20 + 20, 20 + 15 + 20, 30 + 10, 0]
    assert domain.reason_labels(int(bits[0])) == ["人均收入低于低保标准,尚未纳入保障", "家中有重大疾病患者", "近一年医疗自付费用较高"]
    assert "其他业务发现的关爱信号" in domain.reason_labels(int(bits[1]))


@pytest.fixture
def households(staff, family, travel):
    travel(date(2024, 10, 10))
    poor = family([("head", "19600101"), ("spouse", "19620101")], COMMUNITY_A)
    ill = family([("head", "19700101")], COMMUNITY_B, health_flags=["serious_illness"])
    alone = family([("head", "19400101")], COMMUNITY_A, living_arrangement="alone", disability_category="physical",
                   disability_grade=3)
    enrolled = family([("head", "19550101")], COMMUNITY_A)
    for hh, income, med in [(poor[0].household, 150_000, 0), (ill[0].household, 120_000, 3_000_000),
                            (enrolled[0].household, 10_000, 0)]:
        HouseholdEconomy.objects.create(household=hh, area_path=hh.area_path, township_code="330110005000",
                                        members=hh.members.count(), income_total_fen=income,
                                        medical_costs_12m_fen=med, as_of=date(2024, 9, 30))
    enrol(staff, enrolled[0])
    return {"poor": poor, "ill": ill, "alone": alone, "enrolled": enrolled}


def test_the_worklist_lists_households_not_enrolled_with_reasons(staff, households):
    assert d.outreach_refresh(actor=None, on=date(2024, 10, 10)) == 2
    cases = {c.household_id: c for c in OutreachCase.objects.all()}
    poor = cases[households["poor"][0].household_id]
    assert poor.score == 50
    assert poor.reasons == ["人均收入低于低保标准,尚未纳入保障"]
    ill = cases[households["ill"][0].household_id]
    assert ill.score == 50 + 20 + 20  # below the line, serious illness, high medical costs
    assert households["enrolled"][0].household_id not in cases
    assert households["alone"][0].household_id not in cases  # alone 70+ and disabled: 25 < threshold 40
    # a meals signal about the elder living alone raises it onto the list
    d.on_care_signal(CareSignalRaised(person_id=households["alone"][0].pk, person_uid=str(households["alone"][0].uid),
                                      source="meals", kind="diner_absent", reason="连续7天未就餐"))
    d.on_care_signal(CareSignalRaised(person_id=households["alone"][0].pk, person_uid=str(households["alone"][0].uid),
                                      source="safety", kind="quiet_day", reason="全天无活动"))
    assert CareSignal.objects.count() == 2
    d.outreach_refresh(actor=None, on=date(2024, 10, 10))
    alone = OutreachCase.objects.get(household_id=households["alone"][0].household_id)
    assert alone.score == 15 + 10 + 20
    assert "其他业务发现的关爱信号" in alone.reasons
    # scoped: community A sees its own, B its own
    a = [c.household_id for c in outreach_list(actor=staff.worker_a)]
    b = [c.household_id for c in outreach_list(actor=staff.worker_b)]
    assert households["ill"][0].household_id in b
    assert households["ill"][0].household_id not in a
    assert households["poor"][0].household_id in a
    assert households["poor"][0].household_id not in b
    rows = {r.code: r for r in coverage_report(actor=staff.district, on=date(2024, 10, 10))}
    assert rows["330110005000"].should_cover == 2  # the poor and the ill households: 应保未保


def test_worklist_updates_are_scoped_and_need_a_note(staff, households):
    d.outreach_refresh(actor=None, on=date(2024, 10, 10))
    case = OutreachCase.objects.get(household_id=households["ill"][0].household_id)
    with pytest.raises(NotFound):
        d.outreach_update(actor=staff.worker_a, case_id=case.pk, status="contacted", note="已上门")
    with pytest.raises(ValidationFailed):
        d.outreach_update(actor=staff.worker_b, case_id=case.pk, status="referred", note="")
    d.outreach_update(actor=staff.worker_b, case_id=case.pk, status="referred", note="已引导申请医疗救助")
    assert OutreachCase.objects.get(pk=case.pk).status == "referred"


def test_whatif_shows_beneficiaries_and_cost_by_township(staff, households):
    d._cache.clear()
    HouseholdEconomy.objects.filter(household=households["poor"][0].household).update(income_total_fen=300_000)
    out = d.whatif_run(actor=staff.district, changes={"dibao.standard_fen": "1600"}, on=date(2024, 10, 10))
    rows = {r["township"]: r for r in out["base"]}
    changed = {r["township"]: r for r in out["changed"]}
    wc = "330110005000"
    # base: the enrolled household and the ill one (1200 元); at 1600 元 the couple (1500 元 a head) joins
    assert rows[wc]["dibao_households"] == 2
    assert changed[wc]["dibao_households"] == 3
    assert changed["total"]["dibao_monthly_fen"] > rows["total"]["dibao_monthly_fen"]
    assert out["township_names"][wc] == "五常街道"
    assert rows["total"]["longevity_persons"] == 1  # the elder living alone, 84
    with pytest.raises(ValidationFailed):
        d.whatif_run(actor=staff.district, changes={"dibao.standard_fen": "-5"})
    with pytest.raises(ValidationFailed):
        d.whatif_run(actor=staff.district, changes={"tekun.basic_living_fen": "3000"})
    with pytest.raises(PermissionDenied):
        d.whatif_run(actor=staff.township, changes={})
