"""Supervision jobs (A4, A14): anomaly flags over the day's meals, and the regular diner who
stopped coming — a welfare signal for the safety domain and caseworkers, sent as the spine's
``people.events.CareSignalRaised`` (domains do not import each other)."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from minzheng.core.events import publish
from minzheng.core.services import audit_record
from minzheng.meals import domain
from minzheng.meals.enums import DinerStatus, FlagKind, LeaveKind, MealStatus
from minzheng.meals.models import Diner, DinerLeave, FraudFlag, MealPoint, MealService
from minzheng.people.events import CareSignalRaised

VELOCITY_MINUTES = 30  # one credential at two points within this → flag
ABSENT_DAYS = 5  # a regular diner unseen this long, with no leave recorded → welfare signal
REGULAR_WINDOW_DAYS = 28
REGULAR_SHARE_PCT = 40  # ate on ≥ 40 % of the window's days before the gap


def flag_scan(*, day: date, minutes: int = VELOCITY_MINUTES) -> int:
    """Flags for ``day``: the same diner at two points less than ``minutes`` apart; meals while on
    hospital leave (checkout flags these too) or recorded after the diner's death."""
    created = 0
    meals = list(MealService.objects.filter(service_date=day, status=MealStatus.SERVED)
                 .values_list("id", "diner_id", "point_id", "occurred_at"))
    sightings = [domain.Sighting(d, p, at, mid) for mid, d, p, at in meals]
    names = dict(MealPoint.objects.filter(pk__in={p for _, _, p, _ in meals}).values_list("pk", "name"))
    with transaction.atomic():
        for a, b in domain.velocity_pairs(sightings, minutes=minutes):
            gap = int((b.at - a.at).total_seconds() // 60)
            created += _flag(diner_id=a.diner_id, kind=FlagKind.VELOCITY, meal_id=b.meal_id, other_meal_id=a.meal_id,
                             point_id=b.point_id, dedup=f"velocity:{a.meal_id}:{b.meal_id}",
                             detail=f"{gap}分钟内先后在{names.get(a.point_id, '')}和{names.get(b.point_id, '')}就餐")
        deceased = (MealService.objects.filter(service_date=day, status=MealStatus.SERVED,
                                               diner__person__deceased_on__lt=day)
                    .values_list("id", "diner_id", "point_id"))
        for mid, did, pid in deceased:
            created += _flag(diner_id=did, kind=FlagKind.AFTER_DEATH, meal_id=mid, point_id=pid,
                             dedup=f"after_death_meal:{mid}", detail="身故登记日期之后仍有就餐记录")
        hospital = (MealService.objects.filter(service_date=day, status=MealStatus.SERVED)
                    .filter(diner__leaves__kind=LeaveKind.HOSPITAL, diner__leaves__starts__lte=day)
                    .filter(Q(diner__leaves__ends__isnull=True) | Q(diner__leaves__ends__gte=day))
                    .values_list("id", "diner_id", "point_id").distinct())
        for mid, did, pid in hospital:
            created += _flag(diner_id=did, kind=FlagKind.HOSPITAL_LEAVE, meal_id=mid, point_id=pid,
                             dedup=f"hospital:{mid}", detail="住院报备期间有就餐记录")
    return created


def _flag(*, diner_id: int, kind: str, detail: str, dedup: str, meal_id: int | None = None,
          other_meal_id: int | None = None, point_id: int | None = None) -> int:
    flag, created = FraudFlag.objects.get_or_create(dedup_key=dedup[:120], defaults={
        "diner_id": diner_id, "kind": kind, "meal_id": meal_id, "other_meal_id": other_meal_id,
        "point_id": point_id, "detail": detail[:300]})
    if created:
        audit_record(actor=None, event_type="meals.flag", object_type="meals.flag", object_id=flag.pk,
                     extra={"kind": kind, "diner": diner_id})
    return int(created)


def absence_scan(*, today: date | None = None, days: int = ABSENT_DAYS) -> list[int]:
    """Regular diners (≥ 40 % of the days in the four weeks before their last meal) unseen for
    ``days`` with no leave covering the gap: publish ``CareSignalRaised`` once per absence.
    Returns the diner ids signalled."""
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=days)
    window_start = cutoff - timedelta(days=REGULAR_WINDOW_DAYS)
    last_meals = dict(
        MealService.objects.filter(status=MealStatus.SERVED, service_date__gte=window_start,
                                   diner__person__isnull=False, diner__status=DinerStatus.ACTIVE)
        .values_list("diner_id").annotate(last=Max("service_date")).values_list("diner_id", "last"))
    absent = {d: last for d, last in last_meals.items() if last < cutoff}
    if not absent:
        return []
    days_eaten = dict(
        MealService.objects.filter(status=MealStatus.SERVED, diner_id__in=list(absent),
                                   service_date__gte=window_start, service_date__lt=cutoff)
        .values_list("diner_id").annotate(n=Count("service_date", distinct=True)).values_list("diner_id", "n"))
    on_leave = set(DinerLeave.objects.filter(diner_id__in=list(absent), starts__lte=today)
                   .filter(Q(ends__isnull=True) | Q(ends__gte=cutoff)).values_list("diner_id", flat=True))
    signalled: list[int] = []
    for diner in Diner.objects.select_related("person").filter(pk__in=list(absent)):
        last = absent[diner.pk]
        if diner.pk in on_leave or diner.person is None:
            continue
        if not domain.is_regular(days_eaten.get(diner.pk, 0), REGULAR_WINDOW_DAYS, min_share_pct=REGULAR_SHARE_PCT):
            continue
        if diner.absence_signalled_on is not None and diner.absence_signalled_on > last:
            continue  # already signalled for this absence
        gap = domain.absent_days(last, today)
        with transaction.atomic():
            Diner.objects.filter(pk=diner.pk).update(absence_signalled_on=today)
            audit_record(actor=None, event_type="meals.absence_signal", object_type="meals.diner",
                         object_id=diner.uid, extra={"last_meal": last.isoformat(), "days": gap})
            publish(CareSignalRaised(
                person_id=diner.person.pk, person_uid=str(diner.person.uid), source="meals", kind="diner_absent",
                reason=f"常来助餐的老人已{gap}天未就餐(最近一次 {last:%m月%d日}), 且无外出或住院报备, 建议上门或电话探访",
                severity="low"))
        signalled.append(diner.pk)
    return signalled
