"""The safety part of the synthetic district (`minzheng seed`): ≈ 5,000 monitored homes at scale
1, chosen among elders aged 60+ who live alone, each with a "3+X" kit, a gateway, family
contacts, and a month of handled incidents so the console and the reports have history."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from minzheng.core import crypto
from minzheng.core.identifiers import mask_phone
from minzheng.core.seeding import SeedContext
from minzheng.core.services import audit_record
from minzheng.people.domain import born_by
from minzheng.people.enums import HealthFlag, LivingArrangement, PersonStatus
from minzheng.people.selectors import PersonFilters, person_list
from minzheng.safety import domain
from minzheng.safety.enums import (
    AlarmType,
    DeviceKind,
    DispatchTarget,
    IncidentAction,
    IncidentState,
    Outcome,
)
from minzheng.safety.models import (
    Device,
    Gateway,
    Home,
    HomeContact,
    HomeState,
    Incident,
    IncidentEntry,
    Kit,
)
from minzheng.safety.services._common import SYSTEM, chunks
from minzheng.safety.services.devices import contact_aad

HOMES_AT_SCALE_1 = 5000
CENTRE = (30.42, 120.30)  # 余杭 (approximate)
RELATIONS = ("儿子", "女儿", "儿媳", "女婿", "侄子", "邻居")
INCIDENTS_PER_HOME_DAY = 0.01
HISTORY_DAYS = 30


def _phone(rng: random.Random) -> str:
    return rng.choice(("139", "138", "137", "158", "188", "135")) + f"{rng.randrange(10**8):08d}"


def seed_safety(ctx: SeedContext) -> None:
    rng = ctx.rng("safety")
    target = round(HOMES_AT_SCALE_1 * ctx.scale)
    if target <= 0:
        return
    today = timezone.localdate()
    candidates = list(
        person_list(actor=SYSTEM, filters=PersonFilters(
            status=PersonStatus.ACTIVE, living_arrangement=LivingArrangement.ALONE,
            min_age_birth_before=born_by(today, 60),
        )).order_by("id").values_list("id", "division_id", "area_path", "health_flags")
    )
    taken = set(Home.objects.values_list("person_id", flat=True))
    candidates = [c for c in candidates if c[0] not in taken]
    chosen = sorted(rng.sample(candidates, min(target, len(candidates))))
    total = len(chosen)
    made = 0
    for batch in chunks(chosen, 500):
        with transaction.atomic():
            made += _homes(rng, batch, today)
        ctx.progress("安居守护 监护家庭", made, total)
    incidents = _history(rng, today)
    audit_record(actor=SYSTEM, event_type="safety.seed", object_type="safety_home", object_id="seed",
                 extra={"homes": made, "incidents": incidents, "scale": ctx.scale})
    ctx.stats["safety_homes"] = made
    ctx.stats["safety_incidents"] = incidents


def _homes(rng: random.Random, batch: list[tuple[Any, ...]], today: date) -> int:
    homes = []
    for person_id, division_id, area_path, _flags in batch:
        homes.append(Home(
            code=f"AJ-P{person_id:09d}", person_id=person_id, division_id=division_id, area_path=area_path,
            lat=round(CENTRE[0] + rng.uniform(-0.15, 0.15), 5), lon=round(CENTRE[1] + rng.uniform(-0.3, 0.12), 5),
        ))
    Home.objects.bulk_create(homes)
    homes = list(Home.objects.filter(code__in=[h.code for h in homes]))
    flags_of = {p: (f or []) for p, _, _, f in batch}
    kits = [Kit(home=h, code=f"K{h.code}", installed_on=today - timedelta(days=rng.randrange(30, 900)))
            for h in homes]
    Kit.objects.bulk_create(kits)
    kit_of = {k.home_id: k for k in Kit.objects.filter(home__in=homes)}
    devices, gateways, contacts, states = [], [], [], []
    for h in homes:
        kit = kit_of[h.pk]
        pid = h.person_id
        kinds = [DeviceKind.DOOR_CONTACT, DeviceKind.PIR, DeviceKind.SOS_BUTTON]
        if rng.random() < 0.3:
            kinds.append(DeviceKind.PIR)  # a second PIR (bedroom)
        if rng.random() < 0.4:
            kinds.append(DeviceKind.WATER_METER)
        if rng.random() < 0.5:
            kinds.append(DeviceKind.SMOKE_GAS)
        if HealthFlag.DEMENTIA in flags_of[pid] or rng.random() < 0.15:
            kinds.append(DeviceKind.WATCH)
        places = {DeviceKind.DOOR_CONTACT: "入户门", DeviceKind.PIR: "客厅", DeviceKind.SOS_BUTTON: "床头",
                  DeviceKind.WATER_METER: "厨房", DeviceKind.SMOKE_GAS: "厨房", DeviceKind.WATCH: "随身"}
        for n, kind in enumerate(kinds):
            place = "卧室" if kind == DeviceKind.PIR and n > 2 else places[kind]
            devices.append(Device(kit=kit, home=h, kind=kind, serial=f"{kind[:3].upper()}{pid:09d}{n}", place=place,
                                  battery_pct=rng.randrange(35, 100) if kind != DeviceKind.WATER_METER else None))
        gateways.append(Gateway(kit=kit, home=h, code=f"GW{pid:09d}"))
        for priority in range(1, rng.choice((2, 2, 3))):
            c = HomeContact(home=h, name=rng.choice("王李张刘陈杨黄赵吴周") + rng.choice(("伟", "芳", "敏", "军", "丽", "强", "静")),
                            relation=rng.choice(RELATIONS), priority=priority)
            phone = _phone(rng)
            c.phone_masked = mask_phone(phone)
            c.phone_sealed = crypto.seal(phone, contact_aad(c))
            contacts.append(c)
        states.append(HomeState(home=h, area_path=h.area_path))
    Device.objects.bulk_create(devices)
    Gateway.objects.bulk_create(gateways)
    HomeContact.objects.bulk_create(contacts)
    HomeState.objects.bulk_create(states)
    return len(homes)


HISTORY_MIX = (
    (AlarmType.INACTIVITY, 0.35), (AlarmType.SOS, 0.25), (AlarmType.WATER_NONE, 0.15), (AlarmType.NIGHT_EXIT, 0.08),
    (AlarmType.WANDER, 0.05), (AlarmType.WATER_LEAK, 0.04), (AlarmType.SMOKE, 0.03), (AlarmType.CARE_CHECK, 0.05),
)
OUTCOMES = (
    (Outcome.FALSE_ALARM_ROUTINE, 0.25), (Outcome.FALSE_ALARM_ACCIDENTAL, 0.15), (Outcome.FALSE_ALARM_AWAY, 0.1),
    (Outcome.FALSE_ALARM_DEVICE, 0.05), (Outcome.ASSISTED, 0.3), (Outcome.HOSPITALISED, 0.1),
    (Outcome.EMERGENCY_SERVICES, 0.05),
)


def _pick(rng: random.Random, table: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in table)
    for value, w in table:
        x -= w
        if x <= 0:
            return value
    return table[-1][0]


def _history(rng: random.Random, today: date) -> int:
    """A month of closed incidents (for metrics) and a few open ones (for the console)."""
    homes = list(Home.objects.filter(code__startswith="AJ-P").values_list("pk", "person_id", "division_id",
                                                                           "area_path", "code"))
    if not homes:
        return 0
    n_hist = int(len(homes) * HISTORY_DAYS * INCIDENTS_PER_HOME_DAY)
    n_open = max(1, len(homes) // 500)
    now = timezone.now()
    incidents: list[Incident] = []
    plans: list[list[tuple[str, datetime, str, str]]] = []
    for i in range(n_hist + n_open):
        pk, person_id, division_id, area_path, code = rng.choice(homes)
        alarm_type = _pick(rng, HISTORY_MIX)
        severity = domain.DEFAULT_SEVERITY[alarm_type]
        policy = domain.SLA[severity]
        is_open = i >= n_hist
        if is_open:
            opened = now - timedelta(minutes=rng.randrange(1, 40))
        else:
            day = today - timedelta(days=rng.randrange(1, HISTORY_DAYS + 1))
            opened = timezone.make_aware(datetime.combine(day, time(rng.randrange(0, 24), rng.randrange(60))))
        inc = Incident(code=f"AJ{timezone.localtime(opened):%Y%m%d}-S{i:06d}", home_id=pk, person_id=person_id,
                       division_id=division_id, area_path=area_path, alarm_type=alarm_type, severity=severity,
                       title=f"{AlarmType(alarm_type).label} · {code}", opened_at=opened, policy=policy.as_dict(),
                       source="alarm" if alarm_type != AlarmType.CARE_CHECK else "meals:diner_absent")
        steps: list[tuple[str, datetime, str, str]] = [(IncidentAction.OPEN, opened, "", IncidentState.NEW)]
        if is_open:
            inc.state = IncidentState.NEW
            inc.next_deadline_at = opened + timedelta(seconds=policy.ack)
            inc.deadline_state = IncidentState.NEW
        else:
            slow = rng.random() < 0.08
            t = opened + timedelta(seconds=rng.uniform(0.2, 1.0) * policy.ack * (3 if slow else 1))
            inc.acked_at = t
            steps.append((IncidentAction.ACKNOWLEDGE, t, IncidentState.NEW, IncidentState.ACKNOWLEDGED))
            t += timedelta(seconds=rng.uniform(10, 0.8 * policy.verify))
            inc.verifying_at = t
            steps.append((IncidentAction.CALL, t, IncidentState.ACKNOWLEDGED, IncidentState.VERIFYING))
            outcome = _pick(rng, OUTCOMES) if alarm_type != AlarmType.CARE_CHECK else Outcome.CARE_OK
            if outcome not in domain.FALSE_ALARM_OUTCOMES and outcome != Outcome.CARE_OK:
                t += timedelta(seconds=rng.uniform(30, 0.8 * policy.dispatch))
                inc.dispatched_at, inc.dispatch_target = t, DispatchTarget.COMMUNITY_WORKER
                steps.append((IncidentAction.DISPATCH, t, IncidentState.VERIFYING, IncidentState.DISPATCHED))
                t += timedelta(seconds=rng.uniform(300, policy.on_site))
                inc.on_site_at = t
                steps.append((IncidentAction.ARRIVE, t, IncidentState.DISPATCHED, IncidentState.ON_SITE))
                prev = IncidentState.ON_SITE
            else:
                prev = IncidentState.VERIFYING
            t += timedelta(seconds=rng.uniform(60, 1800))
            inc.resolved_at, inc.outcome = t, outcome
            steps.append((IncidentAction.RESOLVE, t, prev, IncidentState.RESOLVED))
            if domain.needs_follow_up(outcome):
                t += timedelta(hours=rng.uniform(2, 20))
                inc.follow_up_at = t
                steps.append((IncidentAction.FOLLOW_UP, t, IncidentState.RESOLVED, IncidentState.FOLLOW_UP))
                prev = IncidentState.FOLLOW_UP
            else:
                prev = IncidentState.RESOLVED
            t += timedelta(minutes=rng.uniform(5, 120))
            inc.closed_at, inc.state = t, IncidentState.CLOSED
            steps.append((IncidentAction.CLOSE, t, prev, IncidentState.CLOSED))
            inc.breaches = 1 if slow else 0
            inc.escalation_level = 1 if slow else 0
        incidents.append(inc)
        plans.append(steps)
    with transaction.atomic():
        Incident.objects.bulk_create(incidents, batch_size=1000)
        saved = {i.code: i.pk for i in Incident.objects.filter(code__in=[i.code for i in incidents])}
        entries = [
            IncidentEntry(incident_id=saved[inc.code], at=at, action=action, actor_name="值班员(演示数据)",
                          state_from=frm, state_to=to)
            for inc, steps in zip(incidents, plans, strict=True) for action, at, frm, to in steps
        ]
        IncidentEntry.objects.bulk_create(entries, batch_size=2000)
    return len(incidents)
