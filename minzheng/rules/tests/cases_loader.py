"""Turn the YAML policy cases (tests/cases/<program>.yaml) into program inputs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from minzheng.rules.engine import Decision
from minzheng.rules.parameters import ParameterSet, default_parameters
from minzheng.rules.programs import children, dibao, dibian, linshi, longevity, tekun
from minzheng.rules.programs.household import Away, Household, Member

CASES_DIR = Path(__file__).resolve().parent / "cases"


def birth_from(spec: Mapping[str, Any], on: dt.date) -> dt.date:
    """``age: N`` → born exactly N years before ``on`` (so ``on`` is the birthday); or ``birth_date``."""
    if "birth_date" in spec:
        value = spec["birth_date"]
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return on.replace(year=on.year - int(spec["age"]))


def build_household(spec: Mapping[str, Any], on: dt.date) -> Household:
    members = tuple(
        Member(
            relation=m["relation"],
            birth_date=birth_from(m, on),
            income_fen=m.get("income_fen", 0),
            student=m.get("student", False),
            cannot_live_independently=m.get("cannot_live_independently", False),
            co_resident=m.get("co_resident", True),
            away=Away[str(m.get("away", "none")).upper()],
            zhejiang_hukou=m.get("zhejiang_hukou", True),
        )
        for m in spec["members"]
    )
    return Household(
        members=members,
        money_assets_fen=spec.get("money_assets_fen", 0),
        vehicles=spec.get("vehicles", 0),
        vehicle_value_fen=spec.get("vehicle_value_fen", 0),
        housing_ok=spec.get("housing_ok", True),
        business_capital_fen=spec.get("business_capital_fen", 0),
    )


def run_case(program: str, case: Mapping[str, Any]) -> Decision:
    on: dt.date = case["date"]
    region = str(case.get("region", "330110"))
    params: ParameterSet = default_parameters()
    if case.get("overrides"):
        params = params.with_values(case["overrides"], on=on, region=region, note=case["name"])
    runners: dict[str, Callable[[], Decision]] = {
        "dibao": lambda: dibao.evaluate(build_household(case["household"], on), on=on, region=region, params=params),
        "dibian": lambda: dibian.evaluate(build_household(case["household"], on), on=on, region=region, params=params),
        "tekun": lambda: tekun.evaluate(
            tekun.TekunApplicant(
                birth_date=birth_from(case["applicant"], on),
                disabled=case["applicant"].get("disabled", False),
                able_to_work=case["applicant"].get("able_to_work", False),
                has_income_source=case["applicant"].get("has_income_source", False),
                has_capable_supporter=case["applicant"].get("has_capable_supporter", False),
                adl_failed=frozenset(tekun.ADL(a) for a in case["applicant"].get("adl_failed", [])),
            ),
            on=on, region=region, params=params,
        ),
        "longevity": lambda: longevity.evaluate(
            longevity.Elder(birth_from(case["person"], on), case["person"].get("zhejiang_hukou", True)),
            on=on, region=region, params=params,
        ),
        "children": lambda: children.evaluate(
            children.Child(
                birth_from(case["child"], on),
                children.ChildCategory[case["child"]["category"].upper()],
                children.FamilyStatus[str(case["child"].get("family", "none")).upper()],
            ),
            on=on, region=region, params=params,
        ),
        "linshi": lambda: linshi.evaluate(
            linshi.LinshiRequest(
                persons=case["request"]["persons"],
                exceptional=case["request"].get("exceptional", False),
                requested_fen=case["request"].get("requested_fen"),
            ),
            on=on, region=region, params=params,
        ),
    }
    return runners[program]()


def load_all() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            out.append((doc["program"], case))
    return out
