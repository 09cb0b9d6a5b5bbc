"""Also recorded: rescue of people living rough, 助联体 service projects, 善居工程 housing works."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from minzheng.assistance import domain
from minzheng.assistance.enums import HousingStatus, Need, ProjectStatus, RescueStage
from minzheng.assistance.models import (
    HousingImprovement,
    ProjectBeneficiary,
    RescueCase,
    ServiceProject,
)
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import _common as c
from minzheng.core.access import Actor
from minzheng.core.exceptions import Conflict, NotFound, ValidationFailed
from minzheng.core.services import audit_record
from minzheng.divisions.models import Division
from minzheng.people.selectors import person_scope

PROJECT_LEVELS = {"district": "区级", "township": "镇街级", "community": "村社级"}
# Where a rescue case may go next (found → sheltered → closed one way or another).
RESCUE_NEXT = {
    RescueStage.FOUND: {RescueStage.SHELTERED, RescueStage.HANDED_OVER, RescueStage.LEFT, RescueStage.OTHER},
    RescueStage.SHELTERED: {RescueStage.ESCORTED_HOME, RescueStage.HANDED_OVER, RescueStage.LEFT, RescueStage.OTHER},
}


def _date(value: Any, field: str, *, required: bool = True) -> date | None:
    if value in (None, ""):
        if required:
            raise ValidationFailed({field: "请填写日期"}, code="bad_date")
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise ValidationFailed({field: "日期格式应为 YYYY-MM-DD"}, code="bad_date") from None
    if day > c.today():
        raise ValidationFailed({field: "日期不能晚于今天"}, code="bad_date")
    return day


def _day(value: Any, field: str) -> date:
    day = _date(value, field)
    assert day is not None  # noqa: S101 - required=True raises instead of returning None
    return day


def _division(actor: Actor, code: str) -> Division:
    division = Division.objects.filter(code=str(code or "").strip()).first()
    if division is None or not division.path.startswith(actor.scope_path):
        raise ValidationFailed({"division_code": "区划不存在或不在您的管辖范围内"}, code="bad_division")
    return division


def rescue_create(*, actor: Actor, division_code: str, display_name: str, found_on: Any, found_place: str,
                  gender: str = "", approx_age: Any = None, note: str = "") -> RescueCase:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    division = _division(actor, division_code)
    day = _day(found_on, "found_on")
    age = None
    if approx_age not in (None, ""):
        try:
            age = int(str(approx_age))
            if not 0 <= age <= 120:
                raise ValueError
        except ValueError:
            raise ValidationFailed({"approx_age": "年龄应为0-120"}, code="bad_rescue") from None
    if gender not in ("", "M", "F"):
        raise ValidationFailed({"gender": "性别无效"}, code="bad_rescue")
    with transaction.atomic():
        case = RescueCase.objects.create(
            division=division, area_path=division.path, township_code=c.township_code(division.path),
            display_name=domain.clean_text(display_name, "display_name", required=True, max_len=32),
            gender=gender, approx_age=age, found_on=day,
            found_place=domain.clean_text(found_place, "found_place", required=True, max_len=120),
            note=domain.clean_text(note, "note"), recorded_by_name=c.who(actor)[1],
        )
        audit_record(actor=actor, event_type="assistance.rescue.create", object_type="assistance.rescue", object_id=case.uid)
    return case


def rescue_advance(*, actor: Actor, case: RescueCase | int, stage: str, on: Any, destination: str = "", note: str = "") -> RescueCase:
    """Found → sheltered → escorted home / handed over / left / other placement."""
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    if stage not in RescueStage.value_set():
        raise ValidationFailed({"stage": "请选择进展"}, code="bad_rescue")
    day = _date(on, "on")
    with transaction.atomic():
        pk = case.pk if isinstance(case, RescueCase) else case
        found = RescueCase.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise NotFound()
        c.in_scope(actor, found.area_path)
        if stage not in RESCUE_NEXT.get(RescueStage(found.stage), set()):
            raise Conflict("当前进展不能变更为该状态", code="bad_state")
        assert day is not None  # noqa: S101 - required above
        if day < found.found_on:
            raise ValidationFailed({"on": "日期不能早于发现日期"}, code="bad_date")
        if stage == RescueStage.ESCORTED_HOME and not destination.strip():
            raise ValidationFailed({"destination": "请填写返乡地"}, code="bad_rescue")
        found.stage = stage
        if stage == RescueStage.SHELTERED:
            found.sheltered_on = day
        else:
            found.closed_on = day
        found.destination = domain.clean_text(destination, "destination", max_len=120) or found.destination
        if note:
            found.note = (found.note + "\n" if found.note else "") + domain.clean_text(note, "note")
        found.save()
        audit_record(actor=actor, event_type="assistance.rescue.advance", object_type="assistance.rescue",
                     object_id=found.uid, extra={"stage": stage})
    return found


def project_create(*, actor: Actor, division_code: str, name: str, provider: str, level: str, need: str,
                   start_on: Any, budget_yuan: Any = 0, end_on: Any = None) -> ServiceProject:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    division = _division(actor, division_code)
    if level not in PROJECT_LEVELS:
        raise ValidationFailed({"level": "请选择项目层级"}, code="bad_project")
    if need not in Need.value_set():
        raise ValidationFailed({"need": "请选择服务内容"}, code="bad_project")
    start = _day(start_on, "start_on")
    end = None
    if end_on not in (None, ""):
        try:
            end = end_on if isinstance(end_on, date) else date.fromisoformat(str(end_on))
        except ValueError:
            raise ValidationFailed({"end_on": "日期格式应为 YYYY-MM-DD"}, code="bad_date") from None
        if start and end < start:
            raise ValidationFailed({"end_on": "结束日期不能早于开始日期"}, code="bad_date")
    budget = domain.yuan_to_fen(budget_yuan or 0, "budget_yuan", maximum=domain.MAX_ASSET_FEN)
    with transaction.atomic():
        project = ServiceProject.objects.create(
            division=division, area_path=division.path, township_code=c.township_code(division.path),
            name=domain.clean_text(name, "name", required=True, max_len=100),
            provider=domain.clean_text(provider, "provider", required=True, max_len=100), level=level, need=need,
            start_on=start, end_on=end, budget_fen=budget,
        )
        audit_record(actor=actor, event_type="assistance.project.create", object_type="assistance.project", object_id=project.pk)
    return project


def project_add_beneficiary(*, actor: Actor, project: ServiceProject | int, person_uid: Any, outcome: str = "") -> ProjectBeneficiary:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    with transaction.atomic():
        pk = project.pk if isinstance(project, ServiceProject) else project
        found = ServiceProject.objects.filter(pk=pk).first()
        if found is None:
            raise NotFound()
        c.in_scope(actor, found.area_path)
        person = person_scope(actor=actor).filter(uid=person_uid).first()
        if person is None or not person.area_path.startswith(found.area_path):
            raise ValidationFailed({"person": "人员不存在或不在项目服务范围内"}, code="unknown_person")
        ben, _ = ProjectBeneficiary.objects.update_or_create(
            project=found, person=person,
            defaults={"joined_on": c.today(), "outcome": domain.clean_text(outcome, "outcome", max_len=200)},
        )
        audit_record(actor=actor, event_type="assistance.project.beneficiary", object_type="assistance.project",
                     object_id=found.pk, extra={"person": str(person.uid)})
    return ben


def project_update(*, actor: Actor, project: ServiceProject | int, status: str, outcomes: str = "") -> ServiceProject:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    if status not in ProjectStatus.value_set():
        raise ValidationFailed({"status": "请选择项目状态"}, code="bad_project")
    if status == ProjectStatus.COMPLETED and not (outcomes or "").strip():
        raise ValidationFailed({"outcomes": "结项须填写项目成效"}, code="bad_project")
    with transaction.atomic():
        pk = project.pk if isinstance(project, ServiceProject) else project
        found = ServiceProject.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise NotFound()
        c.in_scope(actor, found.area_path)
        found.status = status
        if outcomes:
            found.outcomes = domain.clean_text(outcomes, "outcomes")
        found.save(update_fields=["status", "outcomes", "updated_at"])
        audit_record(actor=actor, event_type="assistance.project.update", object_type="assistance.project",
                     object_id=found.pk, extra={"status": status})
    return found


def housing_create(*, actor: Actor, person_uid: Any, works: str, surveyed_on: Any, budget_yuan: Any = 0) -> HousingImprovement:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    person = person_scope(actor=actor).filter(uid=person_uid).select_related("division").first()
    if person is None:
        raise ValidationFailed({"person": "人员不存在或不在您的管辖范围内"}, code="unknown_person")
    if person.household_id is None:
        raise ValidationFailed({"person": "该人员未登记家庭户"}, code="no_household")
    day = _date(surveyed_on, "surveyed_on")
    assert day is not None  # noqa: S101
    budget = domain.yuan_to_fen(budget_yuan or 0, "budget_yuan", maximum=domain.MAX_GRANT_FEN)
    with transaction.atomic():
        item = HousingImprovement.objects.create(
            household_id=person.household_id, person=person, division=person.division, area_path=person.area_path,
            township_code=c.township_code(person.area_path), year=day.year,
            works=domain.clean_text(works, "works", required=True, max_len=300), budget_fen=budget, surveyed_on=day,
            recorded_by_name=c.who(actor)[1],
        )
        audit_record(actor=actor, event_type="assistance.housing.create", object_type="assistance.housing", object_id=item.pk)
    return item


HOUSING_NEXT = {
    HousingStatus.SURVEYED: {HousingStatus.IN_PROGRESS},
    HousingStatus.IN_PROGRESS: {HousingStatus.COMPLETED},
    HousingStatus.COMPLETED: {HousingStatus.ACCEPTED},
}


def housing_advance(*, actor: Actor, item: HousingImprovement | int, status: str, on: Any = None) -> HousingImprovement:
    c.require(actor, AssistancePerm.RECORD_SERVICE)
    with transaction.atomic():
        pk = item.pk if isinstance(item, HousingImprovement) else item
        found = HousingImprovement.objects.select_for_update().filter(pk=pk).first()
        if found is None:
            raise NotFound()
        c.in_scope(actor, found.area_path)
        if status not in HOUSING_NEXT.get(HousingStatus(found.status), set()):
            raise Conflict("当前进度不能变更为该状态", code="bad_state")
        found.status = status
        if status == HousingStatus.COMPLETED:
            found.completed_on = _date(on, "on", required=False) or c.today()
        found.save(update_fields=["status", "completed_on", "updated_at"])
        audit_record(actor=actor, event_type="assistance.housing.advance", object_type="assistance.housing",
                     object_id=found.pk, extra={"status": status})
    return found
