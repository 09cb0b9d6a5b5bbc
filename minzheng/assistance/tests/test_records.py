"""Rescue of people living rough, 助联体 projects, 善居工程."""

from __future__ import annotations

from datetime import date

import pytest

from minzheng.assistance.services import records as r
from minzheng.assistance.tests.conftest import COMMUNITY_A, COMMUNITY_B
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed


def test_a_rescue_is_found_sheltered_and_escorted_home(staff, travel):
    travel(date(2024, 1, 20))
    case = r.rescue_create(actor=staff.township, division_code=COMMUNITY_A, display_name="无名氏", found_on="2024-01-18",
                           found_place="五常大道公交站", gender="M", approx_age="55")
    case = r.rescue_advance(actor=staff.township, case=case, stage="sheltered", on="2024-01-18")
    with pytest.raises(ValidationFailed):
        r.rescue_advance(actor=staff.township, case=case, stage="escorted_home", on="2024-01-19")  # where to?
    case = r.rescue_advance(actor=staff.township, case=case, stage="escorted_home", on="2024-01-19",
                            destination="安徽省阜阳市")
    assert (case.stage, case.closed_on, case.destination) == ("escorted_home", date(2024, 1, 19), "安徽省阜阳市")
    with pytest.raises(Conflict):
        r.rescue_advance(actor=staff.township, case=case, stage="sheltered", on="2024-01-19")
    with pytest.raises(NotFound):
        r.rescue_advance(actor=staff.township_other, case=case, stage="left", on="2024-01-19")
    with pytest.raises(ValidationFailed):
        r.rescue_create(actor=staff.worker_a, division_code=COMMUNITY_B, display_name="x", found_on="2024-01-18",
                        found_place="y")  # outside the worker's area


def test_projects_and_housing(staff, family, travel):
    travel(date(2024, 3, 1))
    p = r.project_create(actor=staff.township, division_code="330110005000", name="康佑计划", provider="余杭区慈善总会",
                         level="township", need="medical", start_on="2024-02-01", budget_yuan="50000")
    person = family([("head", "19500101")], COMMUNITY_A)[0]
    r.project_add_beneficiary(actor=staff.township, project=p, person_uid=person.uid, outcome="完成康复评估")
    with pytest.raises(ValidationFailed):
        r.project_update(actor=staff.township, project=p, status="completed")  # outcomes required
    p = r.project_update(actor=staff.township, project=p, status="completed", outcomes="服务 1 户,完成康复评估")
    assert p.beneficiaries.count() == 1
    h = r.housing_create(actor=staff.worker_a, person_uid=person.uid, works="屋顶防漏、卫生间适老化改造",
                         surveyed_on="2024-02-20", budget_yuan="18000")
    with pytest.raises(Conflict):
        r.housing_advance(actor=staff.worker_a, item=h, status="accepted")
    r.housing_advance(actor=staff.worker_a, item=h, status="in_progress")
    h = r.housing_advance(actor=staff.worker_a, item=h, status="completed", on="2024-02-28")
    assert (h.status, h.completed_on, h.budget_fen) == ("completed", date(2024, 2, 28), 1_800_000)
