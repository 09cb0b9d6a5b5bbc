"""The commands: simulate-homes (file), evaluate-detection (offline replay), safety_tick; and the
rules in the database equal the defaults the detection benchmark measures."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from minzheng.safety import domain
from minzheng.safety.services import current_rules

pytestmark = pytest.mark.django_db


def test_the_rules_in_force_are_the_measured_defaults():
    built = domain.RuleParams.build(current_rules(fresh=True))
    assert built == domain.RuleParams()


def test_simulate_to_a_file_and_evaluate_offline(tmp_path):
    path = tmp_path / "sim.jsonl"
    out = StringIO()
    call_command("simulate_homes", homes=3, days=3, warmup=8, out="file", path=str(path), stdout=out)
    assert "readings of 3 homes" in out.getvalue()
    lines = path.read_text().splitlines()
    assert len(lines) > 1000
    first = json.loads(lines[-1])
    assert {"gw", "device", "seq", "ts", "type"} <= set(first)
    truth = (tmp_path / "sim.jsonl.truth.jsonl").read_text().splitlines()
    assert json.loads(truth[0])["kind"] == "meta"
    out = StringIO()
    call_command("evaluate_detection", truth=str(path) + ".truth.jsonl", events=str(path), json=True, stdout=out)
    result = json.loads(out.getvalue())
    assert result["home_days"] == 9
    assert set(result["kinds"]) == {"fall", "sos", "wander", "water_leak", "sensor_failure"}
    assert "per_home_day" in result["false_alarms"]


def test_safety_tick_command_once():
    out = StringIO()
    call_command("safety_tick", now="2026-05-06T13:00:10+08:00", no_daily=True, stdout=out)
    assert "TickReport" in out.getvalue()



def test_ingest_refuses_a_lane_count_it_cannot_run():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--workers"):
        call_command("ingest", port=1, workers=0)
