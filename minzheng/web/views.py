"""Staff screens. Each view: check input, call one selector or service, render (DESIGN §4.1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minzheng.core.access import Role, login_only, public, requires
from minzheng.core.exceptions import ApplicationError, ApprovalRequired, ValidationFailed
from minzheng.core.identifiers import mask_id_number, mask_phone, normalise_id_number
from minzheng.core.permissions import CorePerm
from minzheng.core.policy import policy
from minzheng.core.services import audit_search
from minzheng.divisions.enums import Level
from minzheng.divisions.selectors import division_list
from minzheng.people import services as people_services
from minzheng.people.domain import classify_search, query_is_sensitive
from minzheng.people.enums import (
    DisabilityCategory,
    HealthFlag,
    LivingArrangement,
    PersonStatus,
    Relation,
    SelfCare,
)
from minzheng.people.panels import panels_for
from minzheng.people.permissions import PeoplePerm
from minzheng.people.selectors import (
    ExportStatus,
    PersonFilters,
    export_approval_queue,
    export_status,
    household_get,
    household_members,
    minor_grant_pending,
    minor_grant_queue,
    person_count,
    person_get,
    person_list,
)
from minzheng.web.navigation import todos_on_home

PAGE_SIZE = 25


def _actor(request: HttpRequest) -> Any:
    return request.user


@public
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


# --- Home -------------------------------------------------------------------------------------


@login_only
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    cards: list[dict[str, Any]] = []
    if actor.has_permission(PeoplePerm.VIEW_PERSON):
        today = timezone.localdate()
        eighty = date(today.year - 80, today.month, min(today.day, 28))
        cards = [
            {"label": "在册人员", "value": person_count(actor=actor), "url": "web:person-list", "query": ""},
            {"label": "80岁以上老人", "value": person_count(actor=actor, filters=PersonFilters(min_age_birth_before=eighty)),
             "url": "web:person-list", "query": "?age=80"},
            {"label": "独居老人(60岁以上)", "url": "web:person-list", "query": "?age=60&living=alone",
             "value": person_count(actor=actor, filters=PersonFilters(
                 min_age_birth_before=date(today.year - 60, today.month, min(today.day, 28)),
                 living_arrangement=LivingArrangement.ALONE))},
        ]
    roles = set(actor.role_codes)
    return render(request, "web/home.html", {
        "cards": cards,
        "todos": todos_on_home(actor, timezone.localdate()),
        "flash": request.session.pop("mz_flash", ""),
        "is_auditor": Role.AUDITOR in roles,
        "is_sysadmin": Role.SYSTEM_ADMIN in roles,
        "is_secadmin": Role.SECURITY_ADMIN in roles,
        "can_people": actor.has_permission(PeoplePerm.VIEW_PERSON),
    })


# --- People -----------------------------------------------------------------------------------


def _filters(params: QueryDict) -> PersonFilters:
    today = timezone.localdate()
    age = params.get("age", "")
    born_before = None
    if age.isdigit() and 0 < int(age) < 130:
        born_before = date(today.year - int(age), today.month, min(today.day, 28))
    status = params.get("status", PersonStatus.ACTIVE)
    return PersonFilters(
        division_code=params.get("division", "").strip()[:12],
        status=status if status in PersonStatus.value_set() else "",
        min_age_birth_before=born_before,
        living_arrangement=params.get("living", "") if params.get("living", "") in LivingArrangement.value_set() else "",
    )


# A full ID or phone number (or enough of one to matter) never travels in a URL: URLs end up in
# access logs, proxies and browser history. The search form posts such a query (see list.html);
# names, pinyin initials and a 4-digit phone tail stay in GET so results can be linked and paged.
SENSITIVE_IN_URL = "为保护个人信息,完整身份证号或手机号不能放在网址中查询,请在查询框中输入后点“查询”"
# Parameters that never go into a link or a pushed history entry.
_NOT_IN_LINKS = ("page", "csrfmiddlewaretoken", "export", "reason")


def _sensitive(query: str) -> bool:
    return query_is_sensitive(query)


def _params(request: HttpRequest) -> QueryDict:
    return request.POST if request.method == "POST" else request.GET


def _query(params: QueryDict) -> str:
    return params.get("q", "").strip()[:40]


def _link_params(params: QueryDict, *, keep_query: bool = True) -> str:
    """The list's criteria as a query string for links, without the query when it is sensitive."""
    out = params.copy()
    for name in _NOT_IN_LINKS:
        out.pop(name, None)
    if not keep_query or _sensitive(_query(params)):
        out.pop("q", None)
    return out.urlencode()


def _shown_query(query: str) -> str:
    """The query as the page names it: a full ID or phone number masked (security A10)."""
    mode = classify_search(query).mode
    if mode == "id_number":
        return mask_id_number(normalise_id_number(query))
    if mode == "phone":
        return mask_phone(query)
    return "" if _sensitive(query) else query


@requires(PeoplePerm.VIEW_PERSON)
@require_http_methods(["GET", "POST"])
def person_list_view(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    params = _params(request)
    query = _query(params)
    notice = ""
    refused = request.method == "GET" and _sensitive(query)
    if refused:
        query, notice = "", SENSITIVE_IN_URL
    filters = _filters(params)
    qs = person_list(actor=actor, filters=filters, query=query)
    if refused:
        qs = qs.none()
    page = Paginator(qs, PAGE_SIZE).get_page(params.get("page"))
    sensitive = _sensitive(query)
    context = {
        "page": page,
        "query": _shown_query(query),
        "id_search": sensitive,
        "notice": notice,
        "filters": filters,
        "params": params,
        "divisions": division_list(within=actor.scope_path).exclude(level=Level.DISTRICT),
        "living_choices": LivingArrangement.as_choices(),
        "status_choices": PersonStatus.as_choices(),
        "querystring": _link_params(params),
        "flash": "" if request.headers.get("HX-Request") else request.session.pop("mz_flash", ""),
        "export_gate": _export_gate(actor, filters, query) if params.get("export") == "approval" else None,
    }
    template = "web/people/_results.html" if request.headers.get("HX-Request") else "web/people/list.html"
    response = render(request, template, context, status=400 if refused else 200)
    if request.method == "POST" and request.headers.get("HX-Request"):
        # The address bar and history get the criteria without the posted number.
        response["HX-Push-Url"] = f"{request.path}?{_link_params(params)}"
    return response


def _export_gate(actor: Any, filters: PersonFilters, query: str) -> ExportStatus | None:
    """What the list shows after an export was refused for want of an approval (AC-5)."""
    if not actor.has_permission(PeoplePerm.EXPORT_PERSON) or _sensitive(query):
        return None
    return export_status(actor=actor, filters=filters, query=query)


def _querystring(request: HttpRequest, drop: str, secret: str = "") -> str:
    params = request.GET.copy()
    params.pop(drop, None)
    if secret:
        params.pop(secret, None)
    return params.urlencode()


@requires(PeoplePerm.EXPORT_PERSON)
@require_GET
def person_export_view(request: HttpRequest) -> HttpResponse:
    query = _query(request.GET)
    back = _link_params(request.GET)
    if _sensitive(query):
        request.session["mz_flash"] = SENSITIVE_IN_URL
        return redirect(f"/people/?{back}")
    try:
        content, _rows = people_services.person_export(actor=_actor(request), filters=_filters(request.GET), query=query)
    except ApprovalRequired as exc:
        request.session["mz_flash"] = exc.message
        return redirect(f"/people/?{back}&export=approval" if back else "/people/?export=approval")
    except ApplicationError as exc:  # too many rows, or the daily cap (refused and audited)
        request.session["mz_flash"] = exc.message
        return redirect(f"/people/?{back}")
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="people-{stamp}.xlsx"'
    return response


@requires(PeoplePerm.EXPORT_PERSON)
@require_POST
def export_approval_request_view(request: HttpRequest) -> HttpResponse:
    back = _link_params(request.POST)
    try:
        people_services.export_approval_request(
            actor=_actor(request), filters=_filters(request.POST), query=_query(request.POST),
            reason=request.POST.get("reason", ""),
        )
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    else:
        request.session["mz_flash"] = "导出申请已提交,请等待街道或区级审批;批准后24小时内可按相同条件导出一次"
    return redirect(f"/people/?{back}&export=approval" if back else "/people/?export=approval")


@requires(PeoplePerm.APPROVE_EXPORT)
@require_GET
def export_approval_queue_view(request: HttpRequest) -> HttpResponse:
    return render(request, "web/people/export_queue.html", {
        "approvals": export_approval_queue(actor=_actor(request)),
        "rules": policy(),
        "flash": request.session.pop("mz_flash", ""),
    })


@requires(PeoplePerm.APPROVE_EXPORT)
@require_POST
def export_approval_decide_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    approval = people_services.export_approval_decide(actor=_actor(request), approval_id=approval_id, approve=approve)
    request.session["mz_flash"] = (
        f"已批准 {approval.requested_by_name} 导出 {approval.row_count} 条,24小时内可导出一次" if approve else "已驳回"
    )
    return redirect("web:export-approval-queue")


@requires(PeoplePerm.VIEW_PERSON)
@require_GET
def person_detail_view(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    try:
        person = person_get(actor=actor, uid=uid)
    except ApprovalRequired:
        return _minor_gate(request, uid)
    panels = []
    for panel in panels_for(actor):
        data = panel.context(actor, person)
        if data is not None:
            panels.append({"panel": panel, "data": data})
    return render(request, "web/people/detail.html", {
        "person": person,
        "age": person.age_on(timezone.localdate()),
        "panels": panels,
        "can_reveal": actor.has_permission(PeoplePerm.REVEAL_IDENTIFIER),
        "can_change": actor.has_permission(PeoplePerm.CHANGE_PERSON),
        "can_life_event": actor.has_permission(PeoplePerm.RECORD_LIFE_EVENT) and person.status == PersonStatus.ACTIVE,
        "flash": request.session.pop("mz_flash", ""),
        "today": timezone.localdate().isoformat(),
    })


def _minor_gate(request: HttpRequest, uid: str, error: str = "") -> HttpResponse:
    """A minor's record: the masked list entry is visible, the file needs an approval (AC-4)."""
    actor = _actor(request)
    person = person_list(actor=actor, filters=PersonFilters(status="")).get(uid=uid)
    return render(request, "web/people/minor_gate.html", {
        "person": person,
        "pending": minor_grant_pending(actor=actor, person=person),
        "error": error,
        "flash": request.session.pop("mz_flash", ""),
    }, status=403)


@requires(PeoplePerm.VIEW_PERSON)
@require_POST
def minor_access_request_view(request: HttpRequest, uid: str) -> HttpResponse:
    try:
        people_services.minor_access_request(actor=_actor(request), person_uid=uid, reason=request.POST.get("reason", ""))
    except ValidationFailed as exc:
        if "person" in exc.fields:  # not a minor: the record opens without an approval
            request.session["mz_flash"] = exc.message
            return redirect("web:person-detail", uid=uid)
        return _minor_gate(request, uid, error=exc.message)
    request.session["mz_flash"] = "申请已提交,请等待街道或区级审批"
    return redirect("web:person-detail", uid=uid)


@requires(PeoplePerm.APPROVE_MINOR_ACCESS)
@require_GET
def minor_access_queue_view(request: HttpRequest) -> HttpResponse:
    return render(request, "web/people/minor_queue.html", {
        "grants": minor_grant_queue(actor=_actor(request)),
        "flash": request.session.pop("mz_flash", ""),
    })


@requires(PeoplePerm.APPROVE_MINOR_ACCESS)
@require_POST
def minor_access_decide_view(request: HttpRequest, grant_id: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    people_services.minor_access_decide(actor=_actor(request), grant_id=grant_id, approve=approve)
    request.session["mz_flash"] = "已批准,有效期7天" if approve else "已驳回"
    return redirect("web:minor-access-queue")


@requires(PeoplePerm.REVEAL_IDENTIFIER)
@require_POST
def person_reveal_view(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    person = person_get(actor=actor, uid=uid)
    field = request.POST.get("field", "")
    try:
        value = people_services.person_reveal(actor=actor, person=person, field=field, reason=request.POST.get("reason", ""))
    except ValidationFailed as exc:
        return render(request, "web/people/_reveal.html", {"person": person, "field": field, "error": exc.message}, status=400)
    return render(request, "web/people/_reveal.html", {"person": person, "field": field, "value": value})


def _person_form_context(actor: Any, data: Any, errors: dict[str, str]) -> dict[str, Any]:
    return {
        "data": data,
        "errors": errors,
        "divisions": division_list(within=actor.scope_path, level=Level.VILLAGE),
        "living_choices": LivingArrangement.as_choices(),
        "self_care_choices": SelfCare.as_choices(),
        "disability_choices": DisabilityCategory.as_choices(),
        "health_choices": HealthFlag.as_choices(),
    }


def _person_form_data(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "name": post.get("name", ""),
        "id_number": post.get("id_number", ""),
        "division_code": post.get("division_code", ""),
        "phones": post.get("phones", ""),
        "address": post.get("address", ""),
        "living_arrangement": post.get("living_arrangement", ""),
        "self_care": post.get("self_care", ""),
        "disability_category": post.get("disability_category", ""),
        "disability_grade": post.get("disability_grade", ""),
        "health_flags": post.getlist("health_flags"),
    }


@requires(PeoplePerm.CHANGE_PERSON)
@require_http_methods(["GET", "POST"])
def person_create_view(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    if request.method == "POST":
        data = _person_form_data(request)
        try:
            person = people_services.person_create(actor=actor, data=data)
        except ValidationFailed as exc:
            errors = exc.fields
        else:
            request.session["mz_flash"] = f"已登记 {person.name}"
            return redirect("web:person-detail", uid=person.uid)
    return render(request, "web/people/form.html", _person_form_context(actor, data, errors), status=400 if errors else 200)


@requires(PeoplePerm.CHANGE_PERSON)
@require_http_methods(["GET", "POST"])
def person_edit_view(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    person = person_get(actor=actor, uid=uid)
    errors: dict[str, str] = {}
    if request.method == "POST":
        data = _person_form_data(request)
        data.pop("id_number")
        if not data["address"]:
            data.pop("address")  # blank keeps the sealed address; the form never shows it in full
        if not data["phones"]:
            data.pop("phones")  # likewise the phones: the form says 留空则不修改
        try:
            people_services.person_update(actor=actor, person=person, data=data)
        except ValidationFailed as exc:
            errors = exc.fields
        else:
            request.session["mz_flash"] = "已保存"
            return redirect("web:person-detail", uid=person.uid)
    else:
        data = {
            "name": person.name, "division_code": person.division_id, "phones": "",
            "living_arrangement": person.living_arrangement, "self_care": person.self_care,
            "disability_category": person.disability_category, "disability_grade": person.disability_grade or "",
            "health_flags": person.health_flags,
        }
    ctx = _person_form_context(actor, data, errors)
    ctx["person"] = person
    return render(request, "web/people/form.html", ctx, status=400 if errors else 200)


@requires(PeoplePerm.RECORD_LIFE_EVENT)
@require_POST
def person_life_event_view(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    person = person_get(actor=actor, uid=uid)
    kind = request.POST.get("kind")
    try:
        on = date.fromisoformat(request.POST.get("on", ""))
    except ValueError:
        request.session["mz_flash"] = "日期格式不正确"
        return redirect("web:person-detail", uid=person.uid)
    try:
        if kind == "death":
            people_services.person_record_death(actor=actor, person=person, died_on=on)
            request.session["mz_flash"] = "已登记死亡,相关业务将自动停止"
        elif kind == "move_out":
            people_services.person_record_move_out(actor=actor, person=person, moved_on=on,
                                                   destination=request.POST.get("destination", ""))
            request.session["mz_flash"] = "已登记迁出"
        else:
            request.session["mz_flash"] = "未知操作"
    except ApplicationError as exc:
        request.session["mz_flash"] = exc.message
    return redirect("web:person-detail", uid=person.uid)


@requires(PeoplePerm.VIEW_PERSON)
@require_GET
def household_detail_view(request: HttpRequest, uid: str) -> HttpResponse:
    actor = _actor(request)
    household = household_get(actor=actor, uid=uid)
    members = household_members(actor=actor, household=household)
    today = timezone.localdate()
    return render(request, "web/people/household.html", {
        "household": household,
        "members": [{"person": m, "age": m.age_on(today)} for m in members],
        "relations": dict(Relation.as_choices()),
    })


# --- Audit ------------------------------------------------------------------------------------


@requires(CorePerm.VIEW_AUDIT)
@require_GET
def audit_log_view(request: HttpRequest) -> HttpResponse:
    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(request.GET.get(name, ""))
        except ValueError:
            return None

    qs = audit_search(
        actor=_actor(request),
        event_type=request.GET.get("event_type", "").strip()[:64],
        username=request.GET.get("username", "").strip()[:64],
        day_from=day("from"),
        day_to=day("to"),
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "web/audit_log.html", {"page": page, "params": request.GET,
                                                  "querystring": _querystring(request, drop="page")})

