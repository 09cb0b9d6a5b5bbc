"""The alarm rules on a fake clock: every time here is an explicit Beijing time, nothing sleeps."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from minzheng.safety import domain
from minzheng.safety.domain import HomeContext, HomeRuleState, Reading, RuleParams
from minzheng.safety.enums import (
    AlarmType,
    DeviceKind,
    HomeStatus,
    IncidentAction,
    IncidentState,
    RejectReason,
)

BJ = ZoneInfo("Asia/Shanghai")
P = RuleParams()
CTX = HomeContext(has_motion_sensor=True, has_water_meter=True, home_lat=30.4, home_lon=120.3)


def bj(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2024, 5, day, hour, minute, tzinfo=BJ).timestamp()


class Home:
    """A home driven by hand: readings and scheduler ticks at chosen times."""

    def __init__(self, params: RuleParams = P, ctx: HomeContext = CTX) -> None:
        self.state = HomeRuleState()
        self.params, self.ctx = params, ctx
        self.seq = 0
        self.signals: list[domain.Signal] = []

    def send(self, t: float, etype: str, value: object = 1, kind: str = DeviceKind.PIR) -> list[domain.Signal]:
        self.seq += 1
        out = domain.apply_reading(self.state, Reading(f"dev-{kind}", self.seq, t, etype, value), kind, self.params,
                                   self.ctx)
        self.signals += out
        return out

    def motion(self, t: float) -> list[domain.Signal]:
        return self.send(t, "motion", 1, DeviceKind.PIR)

    def heartbeat(self, t: float) -> list[domain.Signal]:
        return self.send(t, "heartbeat", None, DeviceKind.PIR)

    def alive(self, start: float, end: float, every: float = 1800) -> None:
        t = start + every
        while t <= end:
            self.heartbeat(t)
            t += every

    def door(self, t: float, value: str = "open") -> list[domain.Signal]:
        return self.send(t, "door", value, DeviceKind.DOOR_CONTACT)

    def tick(self, t: float) -> list[domain.Signal]:
        out = domain.evaluate_due(self.state, self.params, self.ctx, t)
        self.signals += out
        return out

    def raised(self, alarm_type: str) -> list[domain.Signal]:
        return [s for s in self.signals if s.action == "raise" and s.alarm_type == alarm_type]


def test_sos_is_critical_at_once_and_a_second_press_repeats_it():
    h = Home()
    out = h.send(bj(6, 10), "sos", 1, DeviceKind.SOS_BUTTON)
    assert [(s.action, s.alarm_type, s.severity, s.at) for s in out] == [("raise", "sos", "critical", bj(6, 10))]
    again = h.send(bj(6, 10, 1), "sos", 1, DeviceKind.SOS_BUTTON)
    assert [s.action for s in again] == ["repeat"]


def test_fixed_inactivity_fires_after_four_waking_hours_exactly_on_time():
    h = Home()
    h.motion(bj(6, 9))
    for minute in range(30, 4 * 60 + 1, 30):  # the PIR's heartbeat proves it is alive
        h.heartbeat(bj(6, 9) + minute * 60)
    assert h.tick(bj(6, 12, 59)) == []
    assert h.state.next_check_at == bj(6, 13)
    [sig] = h.tick(bj(6, 13))
    assert (sig.action, sig.alarm_type, sig.severity, sig.at) == ("raise", "inactivity", "major", bj(6, 13))
    assert sig.details["rule"] == "fixed"
    assert h.tick(bj(6, 14)) == []  # one active alarm per home and type


def test_inactivity_counts_only_waking_hours():
    h = Home()
    h.motion(bj(6, 21))  # one waking hour left today (07:00–22:00)
    for hour in range(1, 13):
        h.heartbeat(bj(6, 21) + hour * 3600)
    assert h.tick(bj(7, 9, 59)) == []
    [sig] = h.tick(bj(7, 10))  # 1 h yesterday + 3 h this morning
    assert sig.at == bj(7, 10)


def test_a_dead_motion_sensor_is_not_an_inactive_elder():
    h = Home()
    h.motion(bj(6, 9))  # then the PIR dies: no heartbeat
    assert h.tick(bj(6, 13, 5)) == []
    assert h.state.next_check_at == bj(6, 13, 10)  # it waits for the sensor (or the offline rule)
    h.heartbeat(bj(6, 14))  # sensing resumes: the silence before it is no evidence
    assert h.tick(bj(6, 14, 1)) == []
    assert h.raised(AlarmType.INACTIVITY) == []


def test_activity_clears_the_inactivity_alarm():
    h = Home()
    h.motion(bj(6, 9))
    h.alive(bj(6, 9), bj(6, 13))
    h.tick(bj(6, 13))
    out = h.motion(bj(6, 13, 20))
    assert [(s.action, s.alarm_type) for s in out] == [("clear", "inactivity")]
    assert "inactivity" not in h.state.active_alarms


def test_after_going_out_silence_is_not_inactivity_and_return_restarts_the_watch():
    h = Home()
    h.motion(bj(6, 8, 58))
    h.door(bj(6, 9), "open")
    h.door(bj(6, 9, 0) + 20, "closed")
    h.heartbeat(bj(6, 14))
    assert h.tick(bj(6, 15)) == []
    assert domain.was_out(h.state, P, bj(6, 15))
    h.door(bj(6, 16))
    h.motion(bj(6, 16, 1))
    assert not domain.was_out(h.state, P, bj(6, 16, 30))
    assert h.state.returned_at == bj(6, 16)
    assert h.tick(bj(6, 16, 2)) == []
    assert h.state.next_check_at == bj(6, 20, 1)


def test_door_at_night_without_return_alarms_after_thirty_minutes():
    h = Home()
    h.motion(bj(7, 1, 55))
    h.door(bj(7, 2))
    assert h.tick(bj(7, 2, 29)) == []
    [sig] = h.tick(bj(7, 2, 30))
    assert (sig.alarm_type, sig.at) == ("night_exit", bj(7, 2, 30))
    assert h.motion(bj(7, 2, 40)) == []  # a lone motion without the door: a false trigger
    h.door(bj(7, 2, 50))
    out = h.motion(bj(7, 2, 51))  # came back in through the door
    assert ("clear", "night_exit") in [(s.action, s.alarm_type) for s in out]


def test_leaving_the_safe_zone_alarms_after_the_grace_period_and_clears_on_return():
    h = Home()
    far = {"lat": 30.45, "lon": 120.3}  # ≈ 5.6 km north
    h.send(bj(6, 15), "location", far, DeviceKind.WATCH)
    assert h.tick(bj(6, 15, 9)) == []
    [sig] = h.tick(bj(6, 15, 10))
    assert sig.alarm_type == "wander"
    out = h.send(bj(6, 15, 40), "location", {"lat": 30.4001, "lon": 120.3}, DeviceKind.WATCH)
    assert [(s.action, s.alarm_type) for s in out] == [("clear", "wander")]


def test_no_water_for_twelve_hours_and_continuous_flow():
    h = Home()
    h.motion(bj(6, 7, 55))
    h.send(bj(6, 8), "water", 12.0, DeviceKind.WATER_METER)
    t = bj(6, 8)
    while t < bj(6, 20, 30):
        t += 1800
        h.send(t, "water", 0, DeviceKind.WATER_METER)
        h.motion(t - 60)
    sigs = h.raised(AlarmType.WATER_NONE)
    h.tick(bj(6, 20, 30))
    sigs = h.raised(AlarmType.WATER_NONE)
    assert [s.at for s in sigs] == [bj(6, 20, 30)]  # 12 h, plus one half-hour report of slack

    leak = Home()
    t = bj(6, 9)
    for _ in range(13):
        leak.send(t, "water", 3.0, DeviceKind.WATER_METER)
        t += 1800
    [sig] = leak.raised(AlarmType.WATER_LEAK)
    assert sig.details["hours"] >= 6
    out = leak.send(t, "water", 0, DeviceKind.WATER_METER)
    assert [(s.action, s.alarm_type) for s in out] == [("clear", "water_leak")]


def test_away_or_hospital_suppresses_absence_rules_but_never_sos():
    away = HomeContext(status=HomeStatus.AWAY, home_lat=30.4, home_lon=120.3)
    h = Home(ctx=away)
    h.motion(bj(6, 9))
    h.alive(bj(6, 9), bj(6, 17))
    assert h.tick(bj(6, 17)) == []
    assert h.send(bj(6, 17, 5), "sos", 1, DeviceKind.SOS_BUTTON)[0].alarm_type == "sos"


def test_late_and_out_of_order_readings_never_move_the_state_backwards():
    h = Home()
    h.motion(bj(6, 10))
    h.motion(bj(6, 9, 30))  # delivered late
    assert h.state.last_activity_at == bj(6, 10)
    assert h.state.next_check_at is None or h.state.next_check_at >= bj(6, 10)


def test_learned_thresholds_follow_the_homes_own_hours():
    h = Home()
    hist = {}
    first = domain.local_day(bj(1, 12))
    for d in range(first, first + 10):
        row: list[float | None] = [None] * 24
        for hour in range(7, 22):
            row[hour] = 30.0
        row[13] = 100.0  # the afternoon nap
        row[21] = 540.0  # bedtime
        hist[d] = row
    thresholds = domain.learn_thresholds(hist, first + 10, P)
    assert thresholds is not None
    assert len(thresholds) == 25
    assert thresholds[9] == pytest.approx(30 * 1.3 + 25)
    assert thresholds[13] == pytest.approx(100 * 1.3 + 25)
    assert thresholds[12] == pytest.approx(100 * 1.3 + 25)  # a nap may begin an hour early
    assert thresholds[21] == pytest.approx(540 * 1.3 + 25)
    assert thresholds[24] == P.waking_start  # no morning rise learned yet
    assert domain.learn_thresholds(dict(list(hist.items())[:5]), first + 10, P) is None  # too few days

    h.state.thresholds = thresholds
    h.motion(bj(11, 9))
    h.alive(bj(11, 9), bj(11, 10, 0), every=600)
    assert h.tick(bj(11, 10, 3)) == []
    [sig] = h.tick(bj(11, 10, 4))
    assert sig.details["rule"] == "learned"
    assert sig.at == bj(11, 10, 4)


def test_silences_are_learned_but_not_emergencies():
    h = Home()
    h.motion(bj(6, 9))
    h.motion(bj(6, 9, 40))
    assert h.state.gap_hist[domain.local_day(bj(6, 9))][9] == 40.0
    h.alive(bj(6, 9, 40), bj(6, 20, 0))
    h.tick(bj(6, 13, 40))  # the inactivity alarm fires
    h.motion(bj(6, 20))
    assert h.state.gap_hist[domain.local_day(bj(6, 9))][9] == 40.0  # 10 h 20 min: an emergency, not learned
    h.motion(bj(7, 9))
    h.alive(bj(7, 9), bj(7, 13, 40))
    h.tick(bj(7, 13, 0))  # fires again
    h.motion(bj(7, 13, 30))  # merely a long rest, found a false alarm: learned
    assert h.state.gap_hist[domain.local_day(bj(7, 9))][9] == 270.0


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ("not a dict", RejectReason.MALFORMED),
        ({"seq": 1, "ts": 1715000000, "type": "motion"}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": -1, "ts": 1715000000, "type": "motion"}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": True, "ts": 1715000000, "type": "motion"}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": 1, "ts": "yesterday", "type": "motion"}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": 1, "ts": 1715000000 + 3600, "type": "motion"}, RejectReason.FUTURE_TIMESTAMP),
        ({"device": "P1", "seq": 1, "ts": 1000, "type": "motion"}, RejectReason.TOO_OLD),
        ({"device": "P1", "seq": 1, "ts": 1715000000, "type": "teleport"}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": 1, "ts": 1715000000, "type": "battery", "value": 140}, RejectReason.BAD_FIELD),
        ({"device": "P1", "seq": 1, "ts": 1715000000, "type": "location", "value": {"lat": 95, "lon": 1}},
         RejectReason.BAD_FIELD),
    ],
)
def test_bad_messages_are_rejected_with_a_reason(obj, reason):
    r = domain.parse_message(obj, now=1715000000, max_future=300, max_age=90 * 86400)
    assert isinstance(r, domain.Rejected)
    assert r.reason == reason


def test_good_messages_are_normalised():
    now = 1715000000
    r = domain.parse_message({"device": "D1", "seq": 7, "ts": "2024-05-06T20:53:20", "type": "door", "value": "open"},
                             now=now, max_future=300, max_age=86400)
    assert r == Reading("D1", 7, 1715000000.0, "door", 1)
    ms = domain.parse_message({"device": "D1", "seq": 8, "ts": now * 1000, "type": "heartbeat", "value": 55},
                              now=now, max_future=300, max_age=86400)
    assert isinstance(ms, Reading)
    assert ms.ts == now
    assert ms.value == {"battery": 55}
    assert domain.decode_payload(b"\xff") == domain.Rejected(RejectReason.MALFORMED, "报文不是 UTF-8 文本")
    assert domain.decode_payload('{"messages": [{"a": 1}]}') == [{"a": 1}]
    not_json = domain.Rejected(RejectReason.MALFORMED, "报文不是有效的 JSON")
    assert domain.decode_payload(b'{"device": "D1", "seq": 1, "ts": NaN}') == not_json
    assert domain.decode_payload(b'{"device": "D1", "seq": 1,') == not_json
    assert domain.decode_payload(b"x" * 1_000_001) == domain.Rejected(RejectReason.MALFORMED, "报文过长")


def test_rule_parameters_are_data_with_overrides_and_named_errors():
    p = RuleParams.build({"inactivity": {"params": {"inactivity_hours": 5}}}, {"waking_start": "08:30"})
    assert (p.inactivity_hours, p.waking_start) == (5.0, 8 * 60 + 30)
    off = RuleParams.build({"water_none": {"enabled": False}})
    assert not off.on("water_none")
    with pytest.raises(domain.ParamError) as caught:
        RuleParams.build({}, {"waking_start": "25:00"})
    assert caught.value.field == "waking_start"
    with pytest.raises(domain.ParamError):
        RuleParams.build({}, {"no_such": 1})


def test_incident_state_machine():
    S, A = IncidentState, IncidentAction  # noqa: N806
    path = [(A.ACKNOWLEDGE, S.ACKNOWLEDGED), (A.VERIFY, S.VERIFYING), (A.DISPATCH, S.DISPATCHED),
            (A.ARRIVE, S.ON_SITE)]
    state = S.NEW
    for action, expected in path:
        state = domain.next_state(state, action)
        assert state == expected
    state = domain.next_state(state, A.RESOLVE, outcome="assisted")
    assert state == S.RESOLVED
    with pytest.raises(domain.TransitionError) as caught:
        domain.next_state(state, A.CLOSE, outcome="assisted")
    assert caught.value.code == "follow_up_required"
    state = domain.next_state(domain.next_state(state, A.FOLLOW_UP), A.CLOSE, outcome="assisted")
    assert state == S.CLOSED
    assert domain.next_state(state, A.REOPEN) == S.NEW
    assert domain.next_state(S.VERIFYING, A.RESOLVE, outcome="false_alarm_accidental") == S.RESOLVED
    assert domain.next_state(S.RESOLVED, A.CLOSE, outcome="false_alarm_accidental") == S.CLOSED
    with pytest.raises(domain.TransitionError) as caught:
        domain.next_state(S.NEW, A.DISPATCH)
    assert caught.value.code == "invalid_transition"
    with pytest.raises(domain.TransitionError) as caught:
        domain.next_state(S.ON_SITE, A.RESOLVE)
    assert caught.value.field == "outcome"


def test_escalation_climbs_community_township_district_then_repeats_then_stops():
    policy = domain.SLA["critical"]
    level, n, t = 0, 0, 0.0
    steps = []
    while True:
        e = domain.escalate(level, n, policy, t)
        steps.append((e.level, e.notify_family))
        level, n = e.level, n + 1
        if e.next_deadline is None:
            break
        t = e.next_deadline
    assert steps == [(1, True), (2, False), (2, False), (2, False), (2, False)]


def test_daily_anomaly_scores_a_quiet_day_with_reasons():
    normal = [[0, 0, 0, 0, 0, 0, 2, 8, 10, 9, 8, 6, 7, 5, 3, 6, 8, 9, 7, 6, 4, 2, 0, 0] for _ in range(14)]
    profile = domain.activity_profile(normal)
    assert profile is not None
    assert domain.daily_anomaly(normal[0], profile)[0] < 10
    quiet = [0] * 10 + [1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]
    score, reasons = domain.daily_anomaly(quiet, profile)
    assert score > 80
    assert any("活动量" in r for r in reasons)
    assert any("起床" in r for r in reasons)
