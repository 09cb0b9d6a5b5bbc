"""Early warning: per-elder baselines (activity profile and learned inactivity thresholds), a
daily anomaly score, and the weekly at-risk list with reasons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from minzheng.core.events import publish
from minzheng.core.services import audit_record
from minzheng.people.events import CareSignalRaised
from minzheng.safety import domain
from minzheng.safety.enums import FALSE_ALARM_OUTCOMES, AlarmType, HomeStatus, Outcome
from minzheng.safety.models import (
    ActivityHourly,
    DailyScore,
    Home,
    HomeBaseline,
    HomeState,
    Incident,
    WeeklyRisk,
)
from minzheng.safety.services._common import SYSTEM, bulk_update_fast, chunks, params_for

PROFILE_DAYS = 28
RECENT_DAYS = 2  # days of silence history kept on HomeState (the hot row)
QUIET_DAY_SIGNAL = 85.0  # a day this unusual is announced to other domains (caseworker visits)


def _day_of(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _hourly_by_day(home_ids: list[int], first_day: int, last_day: int) -> dict[int, dict[int, list[float]]]:
    """home → local day → 25 values (24 hourly activity counts, then litres of water)."""
    start = datetime.fromtimestamp(domain.day_start(first_day), UTC)
    end = datetime.fromtimestamp(domain.day_start(last_day + 1), UTC)
    out: dict[int, dict[int, list[float]]] = defaultdict(dict)
    for home_id, hour, motion, door, water in ActivityHourly.objects.filter(
        home_id__in=home_ids, hour__gte=start, hour__lt=end
    ).values_list("home_id", "hour", "motion", "door", "water_l"):
        t = hour.timestamp()
        day = domain.local_day(t)
        row = out[home_id].setdefault(day, [0.0] * 25)
        row[domain.local_hour(t)] += motion + door
        row[24] += water
    return out


def baseline_refresh(*, now: datetime | None = None, home_ids: list[int] | None = None) -> int:
    """Recompute every live home's baseline from its own history (run daily, after midnight)."""
    now = now or timezone.now()
    today = domain.local_day(now.timestamp())
    ids = home_ids if home_ids is not None else list(
        Home.objects.exclude(status=HomeStatus.INACTIVE).order_by("pk").values_list("pk", flat=True))
    n = 0
    for chunk in chunks(ids, 300):
        hourly = _hourly_by_day(chunk, today - PROFILE_DAYS, today - 1)
        with transaction.atomic():
            homes = Home.objects.in_bulk(chunk)
            states = list(HomeState.objects.select_for_update().filter(home_id__in=chunk))
            old = {b.pk: b.gap_history or {} for b in HomeBaseline.objects.filter(pk__in=chunk)}
            baselines = []
            for state in states:
                home = homes[state.home_id]
                params = params_for(home.rule_overrides)
                recent = {int(k): v for k, v in (state.gap_hist or {}).items()}
                history = {int(k): v for k, v in old.get(state.home_id, {}).items()
                           if int(k) >= today - domain.GAP_HISTORY_DAYS}
                history.update(recent)
                thresholds = domain.learn_thresholds(history, today, params)
                days = [v for d, v in sorted(hourly.get(state.home_id, {}).items()) if sum(v[:24]) > 0]
                profile = domain.activity_profile([d[:24] for d in days], [d[24] for d in days])
                # Keep the last RECENT_DAYS on the hot row; archive the rest with the baseline.
                state.gap_hist = {str(d): v for d, v in sorted(history.items()) if d >= today - RECENT_DAYS}
                state.thresholds = thresholds
                state.thresholds_day = today
                state.next_check_at = now
                state.updated_at = now
                baselines.append(HomeBaseline(
                    home_id=state.home_id, computed_at=now, days=len(days), profile=asdict(profile) if profile else {},
                    thresholds=thresholds,
                    gap_history={str(d): v for d, v in sorted(history.items()) if d < today - RECENT_DAYS},
                ))
                n += 1
            bulk_update_fast(HomeState, states, ["gap_hist", "thresholds", "thresholds_day", "next_check_at",
                                                 "updated_at"])
            HomeBaseline.objects.bulk_create(baselines, update_conflicts=True, unique_fields=["home"],
                                             update_fields=["computed_at", "days", "profile", "thresholds",
                                                            "gap_history"])
    return n


def _profile(data: dict[str, Any]) -> domain.Profile | None:
    if not data:
        return None
    data = dict(data)
    for key in ("mean", "std"):
        data[key] = tuple(data[key])
    return domain.Profile(**data)


def daily_scores_compute(*, day: date, now: datetime | None = None) -> int:
    """Score ``day`` for every home with a baseline; announce a very unusual day."""
    now = now or timezone.now()
    d = _day_of(day)
    n = 0
    ids = list(HomeBaseline.objects.exclude(profile={}).order_by("pk").values_list("pk", flat=True))
    for chunk in chunks(ids, 300):
        hourly = _hourly_by_day(chunk, d, d)
        homes = Home.objects.in_bulk(chunk)
        rows = []
        signals = []
        for baseline in HomeBaseline.objects.filter(pk__in=chunk):
            home = homes[baseline.pk]
            profile = _profile(baseline.profile)
            if profile is None or home.status == HomeStatus.INACTIVE:
                continue
            counts = hourly.get(home.pk, {}).get(d, [0.0] * 25)
            away = 24.0 if home.status in (HomeStatus.AWAY, HomeStatus.HOSPITAL) else 0.0
            score, reasons = domain.daily_anomaly(counts[:24], profile, water=counts[24] if profile.water_mean else None,
                                                  away_hours=away)
            rows.append(DailyScore(home=home, day=day, score=score, reasons=reasons, activity=int(sum(counts[:24]))))
            if score >= QUIET_DAY_SIGNAL and reasons:
                signals.append(CareSignalRaised(person_id=home.person_id, person_uid="", source="safety",
                                                kind="unusual_day", reason=";".join(reasons)[:200]))
        with transaction.atomic():
            DailyScore.objects.bulk_create(rows, update_conflicts=True, unique_fields=["home", "day"],
                                           update_fields=["score", "reasons", "activity"])
            for s in signals:
                publish(s)
        n += len(rows)
    return n


def weekly_risk_compute(*, week_start: date, now: datetime | None = None) -> int:
    """The at-risk list for the 7 days before ``week_start`` (a Monday): reasons per elder."""
    now = now or timezone.now()
    first = week_start - timedelta(days=7)
    since30 = now - timedelta(days=30)
    flagged = 0
    ids = list(Home.objects.exclude(status=HomeStatus.INACTIVE).order_by("pk").values_list("pk", flat=True))
    for chunk in chunks(ids, 500):
        scores: dict[int, list[DailyScore]] = defaultdict(list)
        for s in DailyScore.objects.filter(home_id__in=chunk, day__gte=first, day__lt=week_start).order_by("day"):
            scores[s.home_id].append(s)
        baselines = {b.pk: b for b in HomeBaseline.objects.filter(pk__in=chunk)}
        incidents: dict[int, int] = defaultdict(int)
        cares: dict[int, int] = defaultdict(int)
        for home_id, alarm_type, outcome in Incident.objects.filter(
            home_id__in=chunk, opened_at__gte=since30
        ).values_list("home_id", "alarm_type", "outcome"):
            if alarm_type == AlarmType.CARE_CHECK:
                cares[home_id] += 1
            elif outcome not in FALSE_ALARM_OUTCOMES and outcome != Outcome.CANCELLED and alarm_type != AlarmType.DEVICE_OFFLINE:
                incidents[home_id] += 1
        homes = Home.objects.in_bulk(chunk)
        rows = []
        for home_id in chunk:
            days = scores.get(home_id, [])
            b = baselines.get(home_id)
            base_total = (b.profile or {}).get("total_mean") if b else None
            risk = domain.weekly_risk(domain.RiskInput(
                scores=[x.score for x in days], reasons=[x.reasons for x in days],
                recent_activity=sum(x.activity for x in days) / len(days) if days else None,
                baseline_activity=base_total, incidents_30d=incidents[home_id], care_signals_30d=cares[home_id],
            ))
            if risk is not None:
                rows.append(WeeklyRisk(week_start=week_start, home_id=home_id, area_path=homes[home_id].area_path,
                                       score=risk[0], reasons=risk[1], computed_at=now))
        with transaction.atomic():
            WeeklyRisk.objects.filter(week_start=week_start, home_id__in=chunk).delete()
            WeeklyRisk.objects.bulk_create(rows)
        flagged += len(rows)
    audit_record(actor=SYSTEM, event_type="safety.risk.weekly", object_type="safety_risk",
                 object_id=week_start.isoformat(), extra={"flagged": flagged})
    return flagged
