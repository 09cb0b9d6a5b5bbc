"""精准救助 staff screens. Each view declares its permission, checks the input, calls one selector or
service, and renders (DESIGN §4.1). Refusals come back as the service's Chinese message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from minzheng.assistance import domain, selectors
from minzheng.assistance.enums import (
    APPLICABLE,
    AdjustmentKind,
    ApplicationStatus,
    AttachmentKind,
    ChildCategory,
    EnrolmentStatus,
    ExitReason,
    Finding,
    IncomeKind,
    LineStatus,
    Need,
    OutreachStatus,
    Program,
    RescueStage,
    VisitPlace,
)
from minzheng.assistance.models import PayrollLine
from minzheng.assistance.permissions import AssistancePerm
from minzheng.assistance.services import applications as app_services
from minzheng.assistance.services import discovery, enrolment, payroll, records, visits
from minzheng.assistance.services.applications import overdue
from minzheng.core.access import requires
from minzheng.core.exceptions import ApplicationError, NotFound, PermissionDenied, ValidationFailed
from minzheng.core.policy import policy
from minzheng.people.enums import Relation
from minzheng.people.selectors import household_members, person_get
from minzheng.rules.programs.tekun import ADL

PAGE = 30
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _today() -> date:
    return timezone.localdate()


def _flash(request: HttpRequest, message: str) -> None:
    request.session["mz_flash"] = message


def _popflash(request: HttpRequest) -> str:
    return str(request.session.pop("mz_flash", ""))


def _month(request: HttpRequest, key: str = "month") -> date:
    try:
        return domain.parse_month(request.GET.get(key) or _today())
    except ValidationFailed:
        return domain.month_start(_today())


@contextmanager
def _outcome(request: HttpRequest, done: str) -> Iterator[None]:
    """Run one form action: success or the refusal's reason becomes the next page's message; a
    record outside the actor's area stays a 404."""
    try:
        yield
    except NotFound:
        raise
    except ApplicationError as exc:
        _flash(request, f"操作未完成:{_error_text(exc)}")
    else:
        _flash(request, done)


def _error_text(exc: ApplicationError) -> str:
    if isinstance(exc, ValidationFailed) and len(exc.fields) > 1:
        return ";".join(exc.fields.values())
    return exc.message


def _yuan(fen: int | None) -> str:
    fen = int(fen or 0)
    return f"{fen // 100:,}.{fen % 100:02d}"


# -------------------------------------------------------------------------------------- home


@requires(AssistancePerm.VIEW)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    counts = selectors.dashboard_counts(actor=actor, on=_today())
    cards = [(Program(p).label, counts.get(p, 0)) for p in
             (Program.DIBAO, Program.DIBIAN, Program.TEKUN, Program.CHILDREN, Program.LONGEVITY)]
    return render(request, "assistance/home.html", {
        "cards": cards, "counts": counts, "flash": _popflash(request),
        "overdue": selectors.applications_overdue(actor=actor, on=_today())[:10],
    })


# ------------------------------------------------------------------------------------- visits


@requires(AssistancePerm.RECORD_VISIT)
@require_GET
def visit_plan(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    month = _month(request)
    tasks = list(selectors.visit_tasks(actor=actor, month=month)[:500])
    done = sum(1 for t in tasks if t.status == "done")
    return render(request, "assistance/visit_plan.html", {
        "month": month, "tasks": tasks, "done": done, "flash": _popflash(request),
    })


@requires(AssistancePerm.RECORD_VISIT)
@require_http_methods(["GET", "POST"])
def visit_form(request: HttpRequest, uid: str) -> HttpResponse:
    """The phone-width visit form: time, place, findings, needs raised, follow-ups, 幸福清单."""
    actor: Any = request.user
    person = person_get(actor=actor, uid=uid)
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"visited_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "place": "home",
                              "finding": "stable", "needs": []}
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in ("visited_at", "place", "place_note", "finding", "findings",
                                                        "needs_note", "follow_up", "follow_up_due")}
        values["needs"] = request.POST.getlist("needs")
        values["happiness"] = request.POST.get("happiness") == "on"
        try:
            visits.visit_record(
                actor=actor, person_uid=person.uid, visited_at=values["visited_at"], place=values["place"],
                place_note=values["place_note"], finding=values["finding"], findings=values["findings"],
                needs=values["needs"], needs_note=values["needs_note"], follow_up=values["follow_up"],
                follow_up_due=values["follow_up_due"] or None, happiness_delivered=values["happiness"],
            )
        except ValidationFailed as exc:
            errors = exc.fields
        else:
            _flash(request, f"已记录对 {person.name} 的探访")
            return redirect("assistance:visit-plan")
    return render(request, "assistance/visit_form.html", {
        "person": person, "values": values, "errors": errors, "places": VisitPlace.as_choices(),
        "findings": Finding.as_choices(), "needs": Need.as_choices(),
        "recent": selectors.visit_list(actor=actor, person_id=person.pk, limit=3),
    }, status=400 if errors else 200)


# ------------------------------------------------------------------------------- applications


@requires(AssistancePerm.VIEW)
@require_GET
def application_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    qs = selectors.application_list(actor=actor, status=request.GET.get("status", ""),
                                    program=request.GET.get("program", ""))
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    today = _today()
    rows = [{"app": a, "late": overdue(a, today)} for a in page]
    return render(request, "assistance/application_list.html", {
        "page": page, "rows": rows, "statuses": ApplicationStatus.as_choices(), "programs": Program.as_choices(),
        "params": request.GET, "flash": _popflash(request),
    })


@requires(AssistancePerm.APPLY)
@require_http_methods(["GET", "POST"])
def application_new(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    person = person_get(actor=actor, uid=uid)
    household = person.household
    members = [m for m in household_members(actor=actor, household=household) if m.pk != person.pk] \
        if household is not None else []
    errors: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        declared = []
        for m in members:
            if request.POST.get(f"include_{m.uid}") == "on":
                declared.append({
                    "person": str(m.uid), "relation": request.POST.get(f"relation_{m.uid}", ""),
                    "co_resident": request.POST.get(f"away_from_home_{m.uid}") != "on",
                    "student": request.POST.get(f"student_{m.uid}") == "on",
                    "able_bodied": request.POST.get(f"able_{m.uid}") == "on",
                })
        facts = {"category": request.POST.get("category", ""), "cause": request.POST.get("cause", ""),
                 "adl_failed": request.POST.getlist("adl_failed"), "disabled": request.POST.get("disabled") == "on",
                 "care_form": request.POST.get("care_form", "dispersed")}
        try:
            app = app_services.application_create(
                actor=actor, program=request.POST.get("program", ""), applicant_uid=person.uid, members=declared,
                reason=request.POST.get("reason", ""), emergency=request.POST.get("emergency") == "on",
                requested_yuan=request.POST.get("requested_yuan") or None, persons=request.POST.get("persons") or 1,
                facts=facts, bank_name=request.POST.get("bank_name", ""), bank_account=request.POST.get("bank_account", ""),
            )
        except ValidationFailed as exc:
            errors, error = exc.fields, _error_text(exc)
        except ApplicationError as exc:
            error = exc.message
        else:
            _flash(request, "申请已登记,请上传材料后提交")
            return redirect("assistance:application-detail", uid=app.uid)
    return render(request, "assistance/application_new.html", {
        "person": person, "members": members, "errors": errors, "error": error, "post": request.POST,
        "programs": [(p.value, p.label) for p in Program if p in APPLICABLE], "relations": [
            r for r in Relation.as_choices() if r[0] != "head"], "categories": ChildCategory.as_choices(),
        "adls": ADL.as_choices(),
    }, status=400 if error else 200)


ACTIONS = {
    "submit": (AssistancePerm.APPLY, lambda a, app, p: app_services.application_submit(actor=a, application=app)),
    "accept": (AssistancePerm.ACCEPT, lambda a, app, p: app_services.application_accept(actor=a, application=app)),
    "not_accept": (AssistancePerm.ACCEPT, lambda a, app, p: app_services.application_not_accept(
        actor=a, application=app, reason=p.get("reason", ""))),
    "start_check": (AssistancePerm.CHECK_ECONOMY, lambda a, app, p: app_services.application_start_check(actor=a, application=app)),
    "complete_check": (AssistancePerm.CHECK_ECONOMY, lambda a, app, p: app_services.application_complete_check(
        actor=a, application=app)),
    "investigate": (AssistancePerm.INVESTIGATE, lambda a, app, p: app_services.application_investigate(
        actor=a, application=app, visited_on=_date(p.get("visited_on")), findings=p.get("findings", ""),
        recommends=p.get("recommends") == "yes")),
    "publicize": (AssistancePerm.PUBLICIZE, lambda a, app, p: app_services.application_publicize(actor=a, application=app)),
    "object": (AssistancePerm.PUBLICIZE, lambda a, app, p: app_services.application_object(
        actor=a, application=app, note=p.get("note", ""))),
    "close_publicity": (AssistancePerm.PUBLICIZE, lambda a, app, p: app_services.application_close_publicity(
        actor=a, application=app)),
    "approve": (AssistancePerm.APPROVE, lambda a, app, p: app_services.application_approve(
        actor=a, application=app, amount_yuan=p.get("amount_yuan") or None)),
    "deny": (AssistancePerm.APPROVE, lambda a, app, p: app_services.application_deny(
        actor=a, application=app, reason=p.get("reason", ""))),
    "withdraw": (AssistancePerm.APPLY, lambda a, app, p: app_services.application_withdraw(
        actor=a, application=app, reason=p.get("reason", ""))),
    "emergency_pay": (AssistancePerm.EMERGENCY_PAY, lambda a, app, p: app_services.application_emergency_pay(
        actor=a, application=app, amount_yuan=p.get("amount_yuan"))),
    "complete_emergency": (AssistancePerm.APPROVE, lambda a, app, p: app_services.application_complete_emergency(
        actor=a, application=app)),
}


def _date(value: Any) -> Any:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


@requires(AssistancePerm.VIEW)
@require_GET
def application_detail(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    app = selectors.application_get(actor=actor, uid=uid)
    trace = app.decision_trace or {}
    return render(request, "assistance/application_detail.html", {
        "app": app, "members": app.members.select_related("person"), "incomes": app.incomes.select_related("member__person"),
        "assets": app.assets.all(), "attachments": app.attachments.defer("content"), "events": app.events.all(),
        "late": overdue(app, _today()), "explain": (trace.get("explain") or "").splitlines(),
        "actions": {k for k, (perm, _f) in ACTIONS.items() if actor.has_permission(perm)
                    and domain.next_status(k, app.status) is not None},
        "attachment_kinds": AttachmentKind.as_choices(), "income_kinds": IncomeKind.as_choices(),
        "decision_yuan": _yuan(app.decision_amount_fen), "flash": _popflash(request), "today": _today().isoformat(),
        "requested_yuan": _yuan(app.requested_fen) if app.requested_fen else "",
        "action_labels": domain.ACTION_LABELS,
    })


@requires(AssistancePerm.VIEW)
@require_POST
def application_action(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    actor: Any = request.user
    app = selectors.application_get(actor=actor, uid=uid)
    if action not in ACTIONS:
        raise NotFound()
    perm, run = ACTIONS[action]
    if not actor.has_permission(perm):
        raise PermissionDenied()
    try:
        run(actor, app, request.POST)
    except ApplicationError as exc:
        _flash(request, f"操作未完成:{_error_text(exc)}")
    else:
        _flash(request, "已办理")
    return redirect("assistance:application-detail", uid=app.uid)


@requires(AssistancePerm.APPLY)
@require_POST
def attachment_upload(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    app = selectors.application_get(actor=actor, uid=uid)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationFailed({"file": "请选择文件"}, code="bad_attachment")
        limit = policy().upload_max_bytes
        if upload.size and upload.size > limit:
            raise ValidationFailed({"file": f"文件不能超过 {limit // (1024 * 1024)} MB"}, code="file_too_large")
        app_services.attachment_add(actor=actor, application=app, kind=request.POST.get("kind", ""),
                                    filename=upload.name or "", content=upload.read(limit + 1))
    except ApplicationError as exc:
        _flash(request, f"上传未完成:{_error_text(exc)}")
    else:
        _flash(request, "材料已上传")
    return redirect("assistance:application-detail", uid=app.uid)


@requires(AssistancePerm.CHECK_ECONOMY)
@require_POST
def economy_form(request: HttpRequest, uid: str) -> HttpResponse:
    """One income line per member and the money assets, each with its evidence (simple form)."""
    actor: Any = request.user
    app = selectors.application_get(actor=actor, uid=uid)
    incomes = []
    for m in app.members.select_related("person"):
        amount = request.POST.get(f"income_{m.person.uid}", "").strip()
        if amount:
            incomes.append({"person": str(m.person.uid), "kind": request.POST.get(f"kind_{m.person.uid}", "wage"),
                            "monthly_yuan": amount, "source": request.POST.get(f"source_{m.person.uid}", "platform"),
                            "evidence": request.POST.get(f"evidence_{m.person.uid}") or None})
    assets = []
    if request.POST.get("deposit_yuan", "").strip():
        assets.append({"kind": "deposit", "value_yuan": request.POST["deposit_yuan"], "source": "platform"})
    try:
        app_services.economy_record(actor=actor, application=app, incomes=incomes, assets=assets,
                                    housing_ok=request.POST.get("housing_ok") == "on")
    except ApplicationError as exc:
        _flash(request, f"核对结果未保存:{_error_text(exc)}")
    else:
        _flash(request, "核对结果已保存")
    return redirect("assistance:application-detail", uid=app.uid)


@requires(AssistancePerm.VIEW)
@require_GET
def publicity_export(request: HttpRequest) -> HttpResponse:
    content = app_services.publicity_export(actor=request.user, township=request.GET.get("township", "")[:12])  # type: ignore[arg-type]
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="publicity-{_today():%Y%m%d}.xlsx"'
    return response


# ---------------------------------------------------------------------------------- enrolments


@requires(AssistancePerm.VIEW)
@require_GET
def enrolment_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    due = request.GET.get("due") == "1"
    qs = selectors.enrolment_list(actor=actor, program=request.GET.get("program", ""),
                                  status=request.GET.get("status", ""), review_due_on=_today() if due else None)
    page = Paginator(qs, PAGE).get_page(request.GET.get("page"))
    return render(request, "assistance/enrolment_list.html", {
        "page": page, "programs": Program.as_choices(), "statuses": EnrolmentStatus.as_choices(), "params": request.GET,
        "flash": _popflash(request), "due": due,
    })


@requires(AssistancePerm.VIEW)
@require_GET
def enrolment_detail(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    e = selectors.enrolment_get(actor=actor, uid=uid)
    return render(request, "assistance/enrolment_detail.html", {
        "e": e, "members": e.members.select_related("person").order_by("id"), "reviews": e.reviews.order_by("-id")[:10],
        "payments": PayrollLine.objects.filter(enrolment=e, area_path__startswith=actor.scope_path).with_paid()
        .order_by("-for_month", "-id")[:12],
        "adjustments": e.adjustments.order_by("-id")[:10], "exit_reasons": ExitReason.as_choices(),
        "adjust_kinds": AdjustmentKind.as_choices(), "explain": (e.last_trace or {}).get("explain", "").splitlines(),
        "can_manage": actor.has_permission(AssistancePerm.MANAGE_ENROLMENT), "flash": _popflash(request),
        "live": e.status in ("active", "grace", "suspended"), "monthly_yuan": _yuan(e.monthly_fen),
    })


@requires(AssistancePerm.MANAGE_ENROLMENT)
@require_POST
def enrolment_action(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    actor: Any = request.user
    e = selectors.enrolment_get(actor=actor, uid=uid)
    p = request.POST
    with _outcome(request, "已办理"):
        if action == "review":
            members = [{"person": str(m.person.uid), "income_yuan": p.get(f"income_{m.person.uid}", "0") or "0",
                        "job_income_yuan": p.get(f"job_{m.person.uid}", "0") or "0"}
                       for m in e.members.filter(active=True).select_related("person")]
            enrolment.enrolment_review(actor=actor, enrolment=e, members=members, note=p.get("note", ""))
        elif action == "exit":
            enrolment.enrolment_exit(actor=actor, enrolment=e, reason=p.get("reason", ""), note=p.get("note", ""),
                                     last_month=p.get("last_month") or None)
        elif action == "adjust":
            enrolment.adjustment_create(actor=actor, enrolment=e, kind=p.get("kind", ""),
                                        amount_yuan=p.get("amount_yuan"), reason=p.get("reason", ""))
        elif action == "account":
            enrolment.enrolment_set_account(actor=actor, enrolment=e, bank_name=p.get("bank_name", ""),
                                            bank_account=p.get("bank_account", ""))
        else:
            raise NotFound()
    return redirect("assistance:enrolment-detail", uid=e.uid)


# ------------------------------------------------------------------------------------ payroll


@requires(AssistancePerm.RUN_PAYROLL)
@require_http_methods(["GET", "POST"])
def roll_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    if request.method == "POST":
        month = request.POST.get("month", "")
        try:
            if request.POST.get("op") == "close":
                payroll.period_close(actor=actor, month=month)
                _flash(request, f"{month} 已关账")
            else:
                roll = payroll.payroll_create(actor=actor, month=month)
                return redirect("assistance:roll-detail", uid=roll.uid)
        except ApplicationError as exc:
            _flash(request, f"操作未完成:{_error_text(exc)}")
        return redirect("assistance:roll-list")
    return render(request, "assistance/roll_list.html", {
        "rolls": selectors.roll_list(actor=actor)[:24], "flash": _popflash(request),
        "this_month": domain.month_label(domain.month_start(_today())),
    })


@requires(AssistancePerm.RUN_PAYROLL)
@require_GET
def roll_detail(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    roll = selectors.roll_get(actor=actor, uid=uid)
    summary = selectors.roll_summary(actor=actor, roll=roll)
    programs = sorted({p for row in summary for p in row.cells}, key=lambda p: list(Program).index(Program(p)))
    held = selectors.roll_lines(actor=actor, roll=roll, status=LineStatus.HELD)[:100]
    return render(request, "assistance/roll_detail.html", {
        "roll": roll, "summary": summary, "programs": [(p, Program(p).label) for p in programs], "held": held,
        "total_yuan": _yuan(roll.total_fen), "flash": _popflash(request),
        "can_approve": actor.has_permission(AssistancePerm.APPROVE_PAYROLL),
        "can_bank": actor.has_permission(AssistancePerm.EXPORT_BANK_FILE),
    })


@requires(AssistancePerm.RUN_PAYROLL)
@require_POST
def roll_action(request: HttpRequest, uid: str, action: str) -> HttpResponse:
    actor: Any = request.user
    roll = selectors.roll_get(actor=actor, uid=uid)
    with _outcome(request, "已办理"):
        if action == "freeze":
            payroll.payroll_freeze(actor=actor, roll=roll)
        elif action == "approve":
            payroll.payroll_approve(actor=actor, roll=roll)
        elif action == "pay":
            payroll.payroll_pay(actor=actor, roll=roll)
        elif action == "cancel":
            payroll.payroll_cancel(actor=actor, roll=roll, reason=request.POST.get("reason", ""))
        else:
            raise NotFound()
    return redirect("assistance:roll-detail", uid=roll.uid)


@requires(AssistancePerm.EXPORT_BANK_FILE)
@require_GET
def roll_bank_file(request: HttpRequest, uid: str) -> HttpResponse:
    actor: Any = request.user
    roll = selectors.roll_get(actor=actor, uid=uid)
    try:
        content = payroll.payroll_bank_file(actor=actor, roll=roll)
    except ApplicationError as exc:
        _flash(request, f"未生成:{_error_text(exc)}")
        return redirect("assistance:roll-detail", uid=roll.uid)
    response = HttpResponse(content, content_type=XLSX)
    response["Content-Disposition"] = f'attachment; filename="bank-{domain.month_label(roll.month)}.xlsx"'
    return response


# ------------------------------------------------------------------------------------ reports


@requires(AssistancePerm.VIEW_REPORTS)
@require_GET
def compliance(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    month = _month(request)
    rows = selectors.compliance(actor=actor, month=month)
    totals = selectors.ComplianceRow("total", "合计")
    for r in rows:
        totals.planned += r.planned
        totals.done += r.done
        totals.missed += r.missed
        totals.objects += r.objects
        totals.delivered += r.delivered
    return render(request, "assistance/compliance.html", {
        "rows": rows, "totals": totals, "month": month, "quarter": domain.quarter_of(month),
        "prev": domain.month_label(domain.add_months(month, -1)), "next": domain.month_label(domain.add_months(month, 1)),
    })


@requires(AssistancePerm.VIEW_REPORTS)
@require_GET
def coverage(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    return render(request, "assistance/coverage.html", {"rows": selectors.coverage_report(actor=actor, on=_today())})


@requires(AssistancePerm.OUTREACH)
@require_http_methods(["GET", "POST"])
def outreach(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    if request.method == "POST":
        try:
            case_id = int(request.POST.get("case", "0"))
            discovery.outreach_update(actor=actor, case_id=case_id, status=request.POST.get("status", ""),
                                      note=request.POST.get("note", ""))
        except ValueError:
            _flash(request, "操作未完成:记录无效")
        except NotFound:
            raise
        except ApplicationError as exc:
            _flash(request, f"操作未完成:{_error_text(exc)}")
        else:
            _flash(request, "已记录走访结果")
        return redirect("assistance:outreach")
    status = request.GET.get("status", OutreachStatus.OPEN)
    page = Paginator(selectors.outreach_list(actor=actor, status=status), PAGE).get_page(request.GET.get("page"))
    return render(request, "assistance/outreach.html", {
        "page": page, "statuses": OutreachStatus.as_choices(), "status": status, "flash": _popflash(request),
    })


@requires(AssistancePerm.WHATIF)
@require_http_methods(["GET", "POST"])
def whatif(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    result = None
    error = ""
    values = {name: request.POST.get(name, "") for name in discovery.WHATIF_PARAMETERS} if request.method == "POST" else {}
    if request.method == "POST":
        try:
            result = discovery.whatif_run(actor=actor, changes=values)
        except ApplicationError as exc:
            error = _error_text(exc)
    rows = []
    if result is not None:
        names = result["township_names"]
        for base, changed, delta in zip(result["base"], result["changed"], result["delta"], strict=True):
            rows.append({"name": names.get(base["township"], "全区合计" if base["township"] == "total" else base["township"]),
                         "base": base, "changed": changed, "delta": delta,
                         "base_yuan": _yuan(base["total_monthly_fen"]), "changed_yuan": _yuan(changed["total_monthly_fen"]),
                         "delta_yuan": _yuan(delta["total_monthly_fen"]) if delta["total_monthly_fen"] >= 0
                         else "-" + _yuan(-delta["total_monthly_fen"])})
    return render(request, "assistance/whatif.html", {
        "parameters": [(k, label, values.get(k, "")) for k, (label, _u) in discovery.WHATIF_PARAMETERS.items()],
        "rows": rows, "error": error, "result": result,
    }, status=400 if error else 200)


# ----------------------------------------------------------------------------- other records


@requires(AssistancePerm.VIEW)
@require_http_methods(["GET", "POST"])
def rescue_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    if request.method == "POST":
        if not actor.has_permission(AssistancePerm.RECORD_SERVICE):
            raise PermissionDenied()
        p = request.POST
        with _outcome(request, "已记录"):
            if p.get("case"):
                records.rescue_advance(actor=actor, case=int(p["case"]) if p["case"].isdigit() else -1,
                                       stage=p.get("stage", ""), on=p.get("on"), destination=p.get("destination", ""))
            else:
                records.rescue_create(actor=actor, division_code=p.get("division_code", ""),
                                      display_name=p.get("display_name", ""), found_on=p.get("found_on"),
                                      found_place=p.get("found_place", ""), gender=p.get("gender", ""),
                                      approx_age=p.get("approx_age") or None, note=p.get("note", ""))
        return redirect("assistance:rescue-list")
    page = Paginator(selectors.rescue_list(actor=actor), PAGE).get_page(request.GET.get("page"))
    return render(request, "assistance/rescue_list.html", {
        "page": page, "stages": RescueStage.as_choices(), "flash": _popflash(request), "today": _today().isoformat(),
        "can_record": actor.has_permission(AssistancePerm.RECORD_SERVICE),
        "division_default": getattr(actor, "division_id", ""),
    })


@requires(AssistancePerm.VIEW)
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    return render(request, "assistance/project_list.html", {"projects": selectors.project_list(actor=actor)[:200]})


@requires(AssistancePerm.VIEW)
@require_GET
def housing_list(request: HttpRequest) -> HttpResponse:
    actor: Any = request.user
    return render(request, "assistance/housing_list.html", {"items": selectors.housing_list(actor=actor)[:200]})
