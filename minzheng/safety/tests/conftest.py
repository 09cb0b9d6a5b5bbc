"""Fixtures of the safety tests: staff at each level, an elder living alone in each of two sibling
communities with an installed kit, and helpers that send readings on a chosen clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

DISTRICT = "330110000000"
WUCHANG = "330110005000"  # 五常街道
COMMUNITY_A = "330110005001"  # 顾家桥社区
COMMUNITY_B = "330110005002"  # 沿山河社区

BJ = ZoneInfo("Asia/Shanghai")


def bj(month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=BJ)


@pytest.fixture(autouse=True)
def _fresh_rule_cache() -> Any:
    from minzheng.safety.services import forget_rules

    forget_rules()
    yield
    forget_rules()


@pytest.fixture
def operator(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["monitoring_operator"], division=DISTRICT, username="duty1", full_name="值班员甲")


@pytest.fixture
def installer(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["district_admin"], division=DISTRICT, username="quji")


@pytest.fixture
def worker_a(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["community_worker"], division=COMMUNITY_A, username="worker_a", full_name="社工甲")


@pytest.fixture
def worker_b(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["community_worker"], division=COMMUNITY_B, username="worker_b")


@pytest.fixture
def township(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["township_staff"], division=WUCHANG, username="wuchang")


def devices_for(tag: str) -> list[dict[str, str]]:
    return [
        {"kind": "door_contact", "serial": f"DOOR-{tag}", "place": "入户门"},
        {"kind": "pir", "serial": f"PIR-{tag}", "place": "客厅"},
        {"kind": "sos_button", "serial": f"SOS-{tag}", "place": "床头"},
        {"kind": "water_meter", "serial": f"WM-{tag}", "place": "厨房"},
        {"kind": "watch", "serial": f"WATCH-{tag}", "place": "随身"},
    ]


@pytest.fixture
def elder_a(make_person: Callable[..., Any]) -> Any:
    return make_person(name="王秀英", division=COMMUNITY_A, birth="19400301", living_arrangement="alone")


@pytest.fixture
def elder_b(make_person: Callable[..., Any]) -> Any:
    return make_person(name="李桂兰", division=COMMUNITY_B, birth="19420815", living_arrangement="alone")


@pytest.fixture
def home_a(installer: Any, elder_a: Any) -> Any:
    """Returns (home, api_secret) for 王秀英's home in community A, gateway GW-A with a key."""
    from minzheng.safety.services import home_register

    return home_register(
        actor=installer, person_uid=elder_a.uid, devices=devices_for("A"), gateway_code="GW-A", issue_key=True,
        contacts=[{"name": "王小明", "relation": "儿子", "phone": "13812345678"},
                  {"name": "王小红", "relation": "女儿", "phone": "13987654321"}],
        lat=30.29, lon=120.02,
    )


@pytest.fixture
def home_b(installer: Any, elder_b: Any) -> Any:
    from minzheng.safety.services import home_register

    return home_register(actor=installer, person_uid=elder_b.uid, devices=devices_for("B"), gateway_code="GW-B",
                         issue_key=True, contacts=[{"name": "李强", "relation": "儿子", "phone": "13700001111"}],
                         lat=30.30, lon=120.03)


class Sender:
    """Send readings through the one ingestion path (as MQTT envelopes), on a chosen clock."""

    def __init__(self) -> None:
        self.seq: dict[str, int] = {}

    def msg(self, device: str, etype: str, value: Any, at: datetime, seq: int | None = None) -> dict[str, Any]:
        if seq is None:
            seq = self.seq.get(device, 0) + 1
        self.seq[device] = max(seq, self.seq.get(device, 0))
        return {"device": device, "seq": seq, "ts": at.timestamp(), "type": etype, "value": value}

    def send(self, *msgs: dict[str, Any], gateway: str = "GW-A", now: datetime | None = None,
             raw: Any = None) -> Any:
        from minzheng.safety.services import Envelope, ingest_batch

        now = now or datetime.fromtimestamp(max(m["ts"] for m in msgs), BJ)
        envs = [Envelope(payload=json.dumps(m) if raw is None else raw, gateway_code=gateway) for m in msgs] \
            if msgs else [Envelope(payload=raw, gateway_code=gateway)]
        return ingest_batch(channel="mqtt", envelopes=envs, now=now)

    def one(self, device: str, etype: str, value: Any, at: datetime, gateway: str = "GW-A",
            seq: int | None = None) -> Any:
        return self.send(self.msg(device, etype, value, at, seq), gateway=gateway, now=at)


@pytest.fixture
def sender() -> Sender:
    return Sender()
