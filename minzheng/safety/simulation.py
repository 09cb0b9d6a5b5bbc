"""Synthetic homes for 安居守护 and the evaluation of detection against ground truth. Pure: no Django.

``simulate_home`` produces one home's sensor stream (the wire format of ``domain.parse_message``)
from a persona: daily routine (wake, meals, outings, naps, quiet sitting, bedtime, night bathroom
trips), PIR blind time and false triggers, hourly heartbeats with battery drain, half-hourly
water-meter reports, a GPS watch when out, sensor failures, visits away (some registered as
外出报备, some not), and injected ground-truth emergencies: a fall (sudden inactivity), wandering
at night, an SOS press, a water leak.

``replay_home`` runs the production rules (``domain.apply_reading`` / ``evaluate_due`` / the
daily ``learn_thresholds``) over such a stream exactly as the services do, with an operator who
resolves point alarms after 30 minutes; ``evaluate`` scores the alarms against the truth:
sensitivity and detection delay per emergency kind, and false alarms per home-day.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from minzheng.safety import domain
from minzheng.safety.enums import AlarmType, DeviceKind, HomeStatus

MIN = 60.0
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class SimHome:
    code: str
    gateway: str
    lat: float
    lon: float
    devices: dict[str, list[str]]  # kind → serials


@dataclass(frozen=True)
class Truth:
    home: str
    kind: str  # fall | wander | sos | water_leak | sensor_failure | visit_away
    start: float
    end: float
    registered: bool = False
    device: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"home": self.home, "kind": self.kind, "start": self.start, "end": self.end,
                "registered": self.registered, "device": self.device}


@dataclass
class Rates:
    """Per home-day rates of the injected events (the evaluation period only for emergencies)."""

    fall: float = 1 / 80
    sos: float = 1 / 120
    wander: float = 1 / 60  # homes with a watch and a dementia trait only
    water_leak: float = 1 / 300
    visit_away: float = 1 / 45
    sensor_failure: float = 1 / 400  # per device-day
    pir_false_trigger: float = 0.3  # per day


def synthetic_homes(n: int, *, prefix: str = "SIM", seed: int = 1) -> list[SimHome]:
    rng = random.Random(  # noqa: S311 - synthetic data
        f"{seed}:homes")
    homes = []
    for i in range(n):
        code = f"{prefix}{i + 1:05d}"
        kinds = [DeviceKind.DOOR_CONTACT, DeviceKind.PIR, DeviceKind.SOS_BUTTON]
        if rng.random() < 0.3:
            kinds.append(DeviceKind.PIR)
        if rng.random() < 0.5:
            kinds.append(DeviceKind.WATER_METER)
        if rng.random() < 0.3:
            kinds.append(DeviceKind.WATCH)
        devices: dict[str, list[str]] = {}
        for j, k in enumerate(kinds):
            devices.setdefault(k, []).append(f"{code}-{k[:3].upper()}{j}")
        homes.append(SimHome(code, f"{code}-GW", round(30.42 + rng.uniform(-0.1, 0.1), 5),
                             round(120.3 + rng.uniform(-0.2, 0.1), 5), devices))
    return homes


# --- Persona and daily routine -------------------------------------------------------------------


@dataclass
class Persona:
    wake: float
    wake_sd: float
    bed: float
    bed_sd: float
    night_trips: float
    active_gap: float  # mean minutes between PIR triggers while moving about
    quiet_gap: float  # mean minutes between PIR triggers while sitting (TV, reading)
    nap_p: float
    nap_median: float  # minutes
    out_morning: float
    out_afternoon: float
    out_evening: float
    dementia: bool
    shower_every: int

    @classmethod
    def draw(cls, rng: random.Random, has_watch: bool) -> Persona:
        return cls(
            wake=rng.uniform(5.5, 7.5), wake_sd=rng.uniform(0.2, 0.5), bed=rng.uniform(21.0, 23.0),
            bed_sd=rng.uniform(0.25, 0.6), night_trips=rng.uniform(0.3, 2.0), active_gap=rng.uniform(2.5, 5.0),
            quiet_gap=rng.uniform(6.0, 14.0), nap_p=rng.uniform(0.1, 0.8), nap_median=rng.uniform(35, 90),
            out_morning=rng.uniform(0.2, 0.8), out_afternoon=rng.uniform(0.05, 0.5), out_evening=rng.uniform(0.0, 0.3),
            dementia=has_watch and rng.random() < 0.5, shower_every=rng.choice((1, 2, 2, 3)),
        )


@dataclass
class _Seg:
    start: float
    end: float
    kind: str  # active | quiet | nap | out | sleep | down | away


class _Emitter:
    def __init__(self, home: SimHome, rng: random.Random) -> None:
        self.home = home
        self.rng = rng
        self.seq: dict[str, int] = {s: rng.randrange(1, 10_000) for ss in home.devices.values() for s in ss}
        self.out: list[tuple[float, str, str, Any]] = []
        self.dead: dict[str, list[tuple[float, float]]] = {}

    def alive(self, serial: str, t: float) -> bool:
        return not any(a <= t < b for a, b in self.dead.get(serial, ()))

    def emit(self, t: float, serial: str, etype: str, value: Any) -> None:
        if self.alive(serial, t):
            self.out.append((t, serial, etype, value))

    def messages(self) -> list[dict[str, Any]]:
        self.out.sort(key=lambda x: x[0])
        msgs = []
        for t, serial, etype, value in self.out:
            self.seq[serial] += 1
            msgs.append({"gw": self.home.gateway, "device": serial, "seq": self.seq[serial], "ts": round(t, 1),
                         "type": etype, "value": value})
        return msgs


def _lognorm(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def _day_plan(rng: random.Random, p: Persona, d0: float, wake: float, bed: float) -> list[_Seg]:
    """One day's waking segments from ``wake`` to ``bed`` (POSIX seconds)."""
    anchors: list[_Seg] = []
    lunch = d0 + rng.uniform(11.0, 12.0) * HOUR
    dinner = d0 + rng.uniform(17.0, 18.2) * HOUR
    anchors.append(_Seg(lunch, lunch + rng.uniform(30, 50) * MIN, "active"))
    anchors.append(_Seg(dinner, dinner + rng.uniform(35, 60) * MIN, "active"))
    if rng.random() < p.nap_p:
        s = lunch + rng.uniform(60, 100) * MIN
        anchors.append(_Seg(s, s + min(200.0, max(15.0, _lognorm(rng, p.nap_median, 0.35))) * MIN, "nap"))
    if rng.random() < p.out_morning:
        s = d0 + rng.uniform(7.5, 9.8) * HOUR
        anchors.append(_Seg(s, s + rng.uniform(40, 150) * MIN, "out"))
    if rng.random() < p.out_afternoon:
        s = d0 + rng.uniform(15.0, 16.3) * HOUR
        anchors.append(_Seg(s, s + rng.uniform(30, 90) * MIN, "out"))
    if rng.random() < p.out_evening:
        s = dinner + rng.uniform(70, 100) * MIN
        anchors.append(_Seg(s, s + rng.uniform(25, 60) * MIN, "out"))
    anchors.sort(key=lambda s: s.start)
    plan: list[_Seg] = []
    t = wake
    morning_end = wake + rng.uniform(30, 60) * MIN
    plan.append(_Seg(t, morning_end, "active"))
    t = morning_end
    for a in anchors:
        if a.end <= t or a.end > bed - 5 * MIN:
            continue  # no outing or nap that bedtime (or leaving for a visit) would cut short
        start = max(a.start, t)
        _fill(rng, plan, t, start)
        plan.append(_Seg(start, min(a.end, bed), a.kind))
        t = min(a.end, bed)
    _fill(rng, plan, t, bed)
    return plan


def _fill(rng: random.Random, plan: list[_Seg], t: float, end: float) -> None:
    quiet = rng.random() < 0.5
    while t < end:
        dur = (rng.uniform(15, 70) if quiet else max(4.0, rng.expovariate(1 / 18))) * MIN
        plan.append(_Seg(t, min(end, t + dur), "quiet" if quiet else "active"))
        t += dur
        quiet = not quiet


@dataclass
class Simulation:
    home: SimHome
    messages: list[dict[str, Any]]
    statuses: list[dict[str, Any]]
    truth: list[Truth]


def simulate_home(home: SimHome, *, start_day: int, days: int, eval_from_day: int, seed: int,
                  rates: Rates | None = None, eval_to_day: int | None = None) -> Simulation:
    """One home's stream for local days [start_day, start_day + days); emergencies are injected
    only in [``eval_from_day``, ``eval_to_day``) (the days before are the baseline's history; a
    day or more after lets the last emergencies play out)."""
    rates = rates or Rates()
    rng = random.Random(  # noqa: S311 - synthetic data
        f"{seed}:{home.code}")
    has_watch = DeviceKind.WATCH in home.devices
    p = Persona.draw(rng, has_watch)
    em = _Emitter(home, rng)
    truth: list[Truth] = []
    statuses: list[dict[str, Any]] = []
    pirs = home.devices.get(DeviceKind.PIR, [])
    door = home.devices.get(DeviceKind.DOOR_CONTACT, [""])[0]
    sos = home.devices.get(DeviceKind.SOS_BUTTON, [""])[0]
    meter = (home.devices.get(DeviceKind.WATER_METER) or [""])[0]
    watch = (home.devices.get(DeviceKind.WATCH) or [""])[0]
    t0 = domain.day_start(start_day)
    t_end = domain.day_start(start_day + days)
    all_serials = [s for ss in home.devices.values() for s in ss]

    # Sensor failures: a device falls silent for 4 h – 2 days.
    for serial in all_serials:
        t = t0
        while True:
            t += rng.expovariate(rates.sensor_failure) * DAY
            if t >= t_end:
                break
            dur = rng.uniform(4 * HOUR, 2 * DAY)
            em.dead.setdefault(serial, []).append((t, t + dur))
            truth.append(Truth(home.code, "sensor_failure", t, t + dur, device=serial))
            t += dur

    water: list[tuple[float, float]] = []
    away_until = 0.0
    down_until = 0.0
    for day in range(start_day, start_day + days):
        d0 = domain.day_start(day)
        evaluating = eval_from_day <= day < (eval_to_day if eval_to_day is not None else start_day + days)
        wake = d0 + rng.gauss(p.wake, p.wake_sd) * HOUR
        bed = d0 + rng.gauss(p.bed, p.bed_sd) * HOUR
        if rng.random() < 0.05:
            wake += rng.uniform(0.5, 1.5) * HOUR  # a lazy morning
        if away_until > d0 + 20 * HOUR or down_until > d0 + 20 * HOUR:
            continue  # away visiting, or still on the floor after a fall
        if d0 <= away_until < d0 + DAY:  # back from a visit today: in through the door
            em.emit(away_until, door, "door", "open")
            em.emit(away_until + 20, door, "door", "closed")
            if pirs:
                em.emit(away_until + 60, pirs[0], "motion", 1)
        day_begin = max(wake, down_until, away_until + 2 * MIN)
        wake_seg_end = bed
        leaving: float | None = None
        if rng.random() < rates.visit_away and away_until < d0:
            leave = d0 + rng.uniform(9, 16) * HOUR
            if leave > day_begin + HOUR:
                back = leave + rng.randint(1, 4) * DAY + rng.uniform(-3, 3) * HOUR
                registered = rng.random() < 0.6
                truth.append(Truth(home.code, "visit_away", leave, back, registered=registered))
                if registered:
                    statuses.append({"kind": "status", "home": home.code, "status": HomeStatus.AWAY, "from": leave,
                                     "until": back + 2 * HOUR})
                away_until = back
                wake_seg_end = leave
                leaving = leave
        plan = _day_plan(rng, p, d0, day_begin, wake_seg_end) if wake_seg_end > day_begin else []

        # Emergencies (evaluation days only).
        fall_at = None
        if evaluating and rng.random() < rates.fall:
            home_segs = [s for s in plan if s.kind in ("active", "quiet") and s.end - s.start > 10 * MIN]
            if home_segs:
                seg = rng.choice(home_segs)
                fall_at = rng.uniform(seg.start + 2 * MIN, seg.end - 2 * MIN)
        if fall_at is not None and leaving is not None:
            # fell before leaving for the visit: there is no visit
            truth.pop()
            if statuses and statuses[-1]["from"] == leaving:
                statuses.pop()
            away_until, leaving = 0.0, None
        if leaving is not None:
            if pirs:
                em.emit(leaving - 40, pirs[0], "motion", 1)
            em.emit(leaving, door, "door", "open")
            em.emit(leaving + 20, door, "door", "closed")
        if fall_at is not None:
            rescue = fall_at + rng.uniform(26, 36) * HOUR  # found by a visitor if nobody came sooner
            plan = [s for s in plan if s.start < fall_at]
            if plan:
                plan[-1] = _Seg(plan[-1].start, fall_at, plan[-1].kind)
            plan.append(_Seg(fall_at, rescue, "down"))
            em.emit(fall_at - rng.uniform(5, 40), pirs[0], "motion", 1) if pirs else None
            truth.append(Truth(home.code, "fall", fall_at, rescue))
            down_until = rescue
        if evaluating and rng.random() < rates.sos:
            segs = [s for s in plan if s.kind in ("active", "quiet")]
            if segs:
                seg = rng.choice(segs)
                t = rng.uniform(seg.start, seg.end)
                if em.alive(sos, t):
                    em.emit(t, sos, "sos", 1)
                    truth.append(Truth(home.code, "sos", t, t + 10 * MIN))
                else:  # pressed while the button was dead: nothing was sent (its outage is a repair job)
                    truth.append(Truth(home.code, "sos_lost", t, t + 10 * MIN, device=sos))
        if evaluating and meter and rng.random() < rates.water_leak:
            t = d0 + rng.uniform(0, 24) * HOUR
            dur = rng.uniform(8, 20) * HOUR
            s = t
            while s < t + dur:
                water.append((s, rng.uniform(2, 6)))
                s += rng.uniform(3, 9) * MIN
            truth.append(Truth(home.code, "water_leak", t, t + dur))

        _emit_day(rng, p, em, plan, pirs, door, meter, watch, home, water)

        # Night: bathroom trips between bed and next wake (not when away or down).
        if wake_seg_end == bed and fall_at is None:
            next_wake = d0 + DAY + p.wake * HOUR
            wander_at = None
            if evaluating and p.dementia and watch and rng.random() < rates.wander:
                wander_at = rng.uniform(max(bed + 1 * HOUR, d0 + 23.5 * HOUR), d0 + DAY + 3.5 * HOUR)
                _wander(rng, em, home, pirs, door, watch, wander_at)
                truth.append(Truth(home.code, "wander", wander_at, wander_at + 3 * HOUR))
            for _ in range(_poisson(rng, p.night_trips)):
                t = rng.uniform(bed + 30 * MIN, next_wake - 20 * MIN)
                if wander_at is not None and wander_at - 10 * MIN <= t <= wander_at + 3 * HOUR + 10 * MIN:
                    continue  # not at home then
                for k in range(rng.randint(1, 3)):
                    if pirs:
                        em.emit(t + k * 130, rng.choice(pirs), "motion", 1)
                water.append((t + 60, 6.0))

    # Heartbeats (hourly, random phase, battery drains), PIR false triggers, water reports.
    for serial in all_serials:
        kind = next(k for k, ss in home.devices.items() if serial in ss)
        if kind == DeviceKind.WATER_METER:
            continue
        battery = rng.uniform(8, 100) if rng.random() < 0.1 else rng.uniform(40, 100)
        t = t0 + rng.uniform(0, HOUR)
        while t < t_end:
            battery = max(1.0, battery - 0.01)
            em.emit(t, serial, "heartbeat", {"battery": int(battery)})
            t += HOUR
    for pir in pirs:
        t = t0
        while True:
            t += rng.expovariate(rates.pir_false_trigger / len(pirs)) * DAY
            if t >= t_end:
                break
            em.emit(t, pir, "motion", 1)
    if meter:
        slots: dict[int, float] = {}
        for t, litres in water:
            slots[int(t // 1800)] = slots.get(int(t // 1800), 0.0) + litres
        slot = int(t0 // 1800) + 1
        while slot * 1800 < t_end:
            em.emit(slot * 1800 + 5, meter, "water", round(slots.get(slot - 1, 0.0), 1))
            slot += 1
    return Simulation(home, em.messages(), statuses, sorted(truth, key=lambda x: x.start))


def _poisson(rng: random.Random, lam: float) -> int:
    n, t = 0, rng.expovariate(1.0)
    while t < lam:
        n += 1
        t += rng.expovariate(1.0)
    return n


def _emit_day(rng: random.Random, p: Persona, em: _Emitter, plan: list[_Seg], pirs: list[str], door: str,
              meter: str, watch: str, home: SimHome, water: list[tuple[float, float]]) -> None:
    blind = 2 * MIN  # PIR hold-off after a trigger
    for i, seg in enumerate(plan):
        if seg.kind in ("active", "quiet"):
            mean = p.active_gap if seg.kind == "active" else p.quiet_gap
            t = seg.start + rng.uniform(0, 60)
            while t < seg.end:
                if pirs:
                    em.emit(t, pirs[0] if len(pirs) == 1 or rng.random() < 0.7 else pirs[1], "motion", 1)
                t += max(blind, rng.expovariate(1 / (mean * MIN)))
            if seg.kind == "active" and meter:
                if rng.random() < 0.5:
                    water.append((rng.uniform(seg.start, seg.end), 6.0))  # toilet
                if seg.end - seg.start > 25 * MIN:
                    water.append((rng.uniform(seg.start, seg.end), rng.uniform(4, 15)))  # cooking, washing
        elif seg.kind == "out":
            if pirs:
                em.emit(seg.start - rng.uniform(20, 60), pirs[0], "motion", 1)
            em.emit(seg.start, door, "door", "open")
            em.emit(seg.start + rng.uniform(5, 30), door, "door", "closed")
            if watch:
                t = seg.start + 10 * MIN
                bearing = rng.uniform(0, 2 * math.pi)
                while t < seg.end - 5 * MIN:
                    r = rng.uniform(100, 700)
                    em.emit(t, watch, "location", _offset(home.lat, home.lon, r, bearing + rng.uniform(-0.3, 0.3)))
                    t += 15 * MIN
            em.emit(seg.end, door, "door", "open")
            em.emit(seg.end + rng.uniform(5, 30), door, "door", "closed")
            if pirs:
                em.emit(seg.end + rng.uniform(30, 90), pirs[0], "motion", 1)
        elif seg.kind == "nap" and len(pirs) > 1 and rng.random() < 0.5:
            em.emit(rng.uniform(seg.start, seg.end), pirs[1], "motion", 1)  # turning over, bedroom PIR
        if seg.kind == "active" and i == 0 and meter:
            water.append((seg.start + 5 * MIN, rng.uniform(10, 25)))
            if rng.random() < 1 / p.shower_every:
                water.append((seg.start + 10 * MIN, rng.uniform(25, 50)))
    if plan and plan[-1].kind != "down" and pirs:
        em.emit(plan[-1].end, pirs[0], "motion", 1)


def _offset(lat: float, lon: float, metres: float, bearing: float) -> dict[str, float]:
    dlat = metres * math.cos(bearing) / 111_320
    dlon = metres * math.sin(bearing) / (111_320 * math.cos(math.radians(lat)))
    return {"lat": round(lat + dlat, 6), "lon": round(lon + dlon, 6)}


def _wander(rng: random.Random, em: _Emitter, home: SimHome, pirs: list[str], door: str, watch: str,
            t: float) -> None:
    if pirs:
        em.emit(t - 60, pirs[0], "motion", 1)
    em.emit(t, door, "door", "open")
    em.emit(t + 20, door, "door", "closed")
    bearing = rng.uniform(0, 2 * math.pi)
    for k in range(1, 12):
        em.emit(t + k * 15 * MIN, watch, "location", _offset(home.lat, home.lon, 300 * k, bearing))
    back = t + 3 * HOUR
    em.emit(back, door, "door", "open")
    em.emit(back + 20, door, "door", "closed")
    if pirs:
        em.emit(back + 60, pirs[0], "motion", 1)


# --- Replay through the production rules ---------------------------------------------------------


@dataclass
class AlarmRecord:
    home: str
    alarm_type: str
    at: float  # when the system raised it (the scheduler's tick or the reading)
    condition_at: float  # when the condition became true
    details: dict[str, Any] | None = None


@dataclass
class ReplayStats:
    messages: int = 0
    rejected: int = 0


def replay_home(sim_home: SimHome, messages: Iterable[dict[str, Any]], statuses: Sequence[dict[str, Any]],
                params: domain.RuleParams, *, tick_seconds: float = 15.0,
                operator_minutes: float = 30.0) -> tuple[list[AlarmRecord], ReplayStats]:
    """Run the rules over one home's stream as the services do: each reading folded in, the
    absence rules evaluated after it and at every persisted due time (the scheduler ticks every
    ``tick_seconds``), thresholds relearned each midnight, devices marked offline, and point
    alarms (SOS, fall) cleared by an operator ``operator_minutes`` after they were raised."""
    kinds = {s: k for k, ss in sim_home.devices.items() for s in ss}
    state = domain.HomeRuleState()
    status_windows = [(s["from"], s["until"]) for s in statuses]
    alarms: list[AlarmRecord] = []
    stats = ReplayStats()
    offline_after = domain.device_offline_after(params)
    last_seen: dict[str, float] = {}
    offline: set[str] = set()
    current_day: int | None = None
    point_clear: list[tuple[float, str]] = []

    contexts = {
        away: domain.HomeContext(
            status=domain.HS_AWAY if away else domain.HS_NORMAL,
            has_motion_sensor=DeviceKind.PIR in sim_home.devices,
            has_water_meter=DeviceKind.WATER_METER in sim_home.devices,
            home_lat=sim_home.lat, home_lon=sim_home.lon,
        )
        for away in (False, True)
    }
    point = (domain.AT_SOS, domain.AT_FALL)

    def ctx_at(t: float) -> domain.HomeContext:
        return contexts[bool(status_windows) and any(a <= t < b for a, b in status_windows)]

    def record(signals: list[domain.Signal], at: float) -> None:
        for s in signals:
            if s.action == "raise" or (s.action == "repeat" and s.alarm_type in point):
                alarms.append(AlarmRecord(sim_home.code, s.alarm_type, at, s.at, dict(s.details)))
                if s.alarm_type in point and s.action == "raise":
                    point_clear.append((at + operator_minutes * MIN, s.alarm_type))

    def advance(until: float) -> None:
        nonlocal current_day
        while True:
            candidates = []
            if state.next_check_at is not None and state.next_check_at <= until:
                candidates.append(state.next_check_at)
            for t, _ in point_clear:
                if t <= until:
                    candidates.append(t)
            for serial, seen in last_seen.items():
                if serial not in offline and seen + offline_after <= until:
                    candidates.append(seen + offline_after)
            day_boundary = domain.day_start((current_day or domain.local_day(until)) + 1)
            if current_day is not None and day_boundary <= until:
                candidates.append(day_boundary)
            if not candidates:
                return
            tick = math.ceil(min(candidates) / tick_seconds) * tick_seconds
            if tick > until:
                return  # the scheduler's next tick comes after this reading
            t = tick
            if current_day is not None and day_boundary <= t:
                current_day += 1
                state.thresholds = domain.learn_thresholds(state.gap_hist, current_day, params)
                state.next_check_at = min(state.next_check_at or day_boundary, day_boundary)
            for due, alarm_type in [pc for pc in point_clear if pc[0] <= t]:
                state.active_alarms.discard(alarm_type)
                point_clear.remove((due, alarm_type))
            for serial, seen in list(last_seen.items()):
                if serial not in offline and seen + offline_after <= t:
                    offline.add(serial)
                    alarms.append(AlarmRecord(sim_home.code, domain.AT_DEVICE_OFFLINE, tick, seen + offline_after,
                                              {"device": serial}))
            if state.next_check_at is not None and state.next_check_at <= t:
                record(domain.evaluate_due(state, params, ctx_at(tick), tick), tick)

    for m in messages:
        r = domain.parse_message(m, now=m["ts"], max_future=300, max_age=365 * DAY)
        if isinstance(r, domain.Rejected):
            stats.rejected += 1
            continue
        stats.messages += 1
        if current_day is None:
            current_day = domain.local_day(r.ts)
        advance(r.ts)
        last_seen[r.device] = r.ts
        offline.discard(r.device)
        ctx = ctx_at(r.ts)
        record(domain.apply_reading(state, r, kinds.get(r.device, ""), params, ctx), r.ts)
        record(domain.evaluate_due(state, params, ctx, r.ts), r.ts)
    return alarms, stats


# --- Evaluation against the truth ---------------------------------------------------------------

MATCH: dict[str, tuple[frozenset[str], float]] = {
    "fall": (frozenset({AlarmType.INACTIVITY, AlarmType.FALL}), 24 * HOUR),
    "sos": (frozenset({AlarmType.SOS}), 10 * MIN),
    "wander": (frozenset({AlarmType.NIGHT_EXIT, AlarmType.WANDER}), 6 * HOUR),
    "water_leak": (frozenset({AlarmType.WATER_LEAK}), 24 * HOUR),
    "sensor_failure": (frozenset({AlarmType.DEVICE_OFFLINE}), 2 * DAY),
}


def _q(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def evaluate(truth: Sequence[Truth], alarms: Sequence[AlarmRecord], *, home_days: float,
             eval_from: float, eval_to: float | None = None) -> dict[str, Any]:
    """Sensitivity and delay per emergency kind (injected in [``eval_from``, ``eval_to``)); false
    alarms per home-day (person alarms in that window that match no injected emergency)."""
    end = eval_to if eval_to is not None else float("inf")
    by_home: dict[str, list[AlarmRecord]] = {}
    for a in alarms:
        by_home.setdefault(a.home, []).append(a)
    used: set[int] = set()
    result: dict[str, Any] = {"home_days": round(home_days, 1), "kinds": {}}
    for kind, (types, window) in MATCH.items():
        episodes = [t for t in truth if t.kind == kind and eval_from <= t.start < end]
        delays: list[float] = []
        for ep in episodes:
            hits = [a for a in by_home.get(ep.home, ())
                    if a.alarm_type in types and ep.start - 1.0 <= a.at <= ep.start + window]
            if kind == "sensor_failure":
                hits = [a for a in hits if a.at <= ep.end + HOUR]
            if hits:
                first = min(hits, key=lambda a: a.at)
                delays.append((first.at - ep.start) / MIN)
                for a in hits:
                    used.add(id(a))
        result["kinds"][kind] = {
            "injected": len(episodes), "detected": len(delays),
            "sensitivity": round(len(delays) / len(episodes), 4) if episodes else None,
            "delay_median_min": round(statistics.median(delays), 1) if delays else None,
            "delay_p90_min": round(_q(delays, 0.9) or 0, 1) if delays else None,
        }
    # Alarms raised while the elder is legitimately down/away after an emergency are part of it.
    person = [a for a in alarms if a.alarm_type in domain.PERSON_ALARMS and eval_from <= a.at < end]
    episodes_by_home: dict[str, list[Truth]] = {}
    for t in truth:
        if t.kind in ("fall", "wander", "water_leak", "sos"):
            episodes_by_home.setdefault(t.home, []).append(t)
    false = [a for a in person if id(a) not in used
             and not any(ep.start <= a.at <= ep.end + 2 * HOUR for ep in episodes_by_home.get(a.home, ()))]
    inactivity_class = [a for a in false if a.alarm_type in domain.INACTIVITY_CLASS]
    result["sos_lost"] = sum(1 for t in truth if t.kind == "sos_lost" and eval_from <= t.start < end)
    result["false_alarms"] = {
        "total": len(false),
        "per_home_day": round(len(false) / home_days, 5) if home_days else None,
        "inactivity_class": len(inactivity_class),
        "inactivity_class_per_home_day": round(len(inactivity_class) / home_days, 5) if home_days else None,
        "by_type": _count(a.alarm_type for a in false),
    }
    return result


def _count(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))


def run_homes(homes: Sequence[SimHome], *, start_day: int, days: int, warmup: int, seed: int,
              params: domain.RuleParams, rates: Rates | None = None) -> tuple[list[Truth], list[AlarmRecord], int]:
    """Simulate and replay a set of homes (one worker's share); returns truth, alarms, messages."""
    truth: list[Truth] = []
    alarms: list[AlarmRecord] = []
    n = 0
    for h in homes:
        sim = simulate_home(h, start_day=start_day, days=warmup + days + 1, eval_from_day=start_day + warmup,
                            eval_to_day=start_day + warmup + days, seed=seed, rates=rates)
        got, stats = replay_home(h, sim.messages, sim.statuses, params)
        truth += sim.truth
        alarms += got
        n += stats.messages
    return truth, alarms, n


def merged(streams: Sequence[Iterator[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    return heapq.merge(*streams, key=lambda m: m["ts"])


def alarm_dict(a: AlarmRecord) -> dict[str, Any]:
    return {"home": a.home, "alarm_type": a.alarm_type, "at": a.at, "condition_at": a.condition_at}


__all__ = ["AlarmRecord", "Rates", "SimHome", "Simulation", "Truth", "evaluate", "merged", "replay_home",
           "run_homes", "simulate_home", "synthetic_homes"]
