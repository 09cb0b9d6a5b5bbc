"""The YAML policy cases: every case in tests/cases/*.yaml is one test."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from minzheng.core.exceptions import ApplicationError
from minzheng.rules.tests.cases_loader import load_all, run_case

CASES = load_all()


@pytest.mark.parametrize(
    ("program", "case"), CASES, ids=[f"{program}:{case['name']}" for program, case in CASES]
)
def test_policy_case(program: str, case: dict[str, Any]) -> None:
    expect = case["expect"]
    if "error" in expect:
        with pytest.raises(ApplicationError) as caught:
            run_case(program, case)
        assert caught.value.code == expect["error"]
        return
    decision = run_case(program, case)
    assert decision.eligible is expect["eligible"]
    assert decision.amount_fen == expect["amount_fen"]
    assert type(decision.amount_fen) is int
    assert set(decision.failed_rules) == set(expect.get("failed", []))
    assert set(expect.get("rules", [])) <= set(decision.rule_ids)
    if "text" in expect:
        assert expect["text"] in decision.explain()
    # Every step that used a parameter names the version it used and its source.
    for p in decision.params_used:
        assert p.version.source
        assert p.version.effective_from <= case["date"]


def test_enough_cases_per_program() -> None:
    counts = Counter(program for program, _ in CASES)
    for program in ("dibao", "dibian", "tekun", "longevity", "children"):
        assert counts[program] >= 10, program
    assert counts["linshi"] >= 6
