"""The parameter files and loader: values from the reference, validation, region layering, overrides."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from minzheng.rules.parameters import (
    PARAMETER_DIR,
    ParameterError,
    default_parameters,
    load_parameters,
    param,
    parameters_from_documents,
)

SOURCES = {"S1": {"title": "t", "url": "u"}}


def one(versions: list[dict[str, Any]], unit: str = "fen") -> dict[str, Any]:
    return {"x.fen": {"label": "x", "unit": unit, "versions": versions}}


@pytest.mark.parametrize(
    ("name", "on", "value"),
    [
        ("dibao.standard_fen", dt.date(2023, 7, 30), 121_600),
        ("dibao.standard_fen", dt.date(2023, 7, 31), 125_900),
        ("dibao.standard_fen", dt.date(2025, 1, 22), 125_900),
        ("dibao.standard_fen", dt.date(2025, 1, 23), 130_100),
        ("tekun.basic_living_fen", dt.date(2024, 6, 1), 209_800),
        ("tekun.basic_living_fen", dt.date(2025, 1, 23), 225_500),
        ("minimum_wage.monthly_fen", dt.date(2024, 6, 1), 228_000),
        ("longevity.age_80_89_fen", dt.date(2024, 6, 1), 6_000),
        ("longevity.age_90_99_fen", dt.date(2024, 6, 1), 10_000),
        ("longevity.age_100_plus_fen", dt.date(2023, 2, 28), 30_000),
        ("longevity.age_100_plus_fen", dt.date(2023, 3, 1), 80_000),
        ("children.orphan_scattered_fen", dt.date(2024, 6, 1), 235_000),
        ("children.hardship_dibao_fen", dt.date(2024, 6, 1), 54_600),
        ("children.hardship_dibian_fen", dt.date(2024, 6, 1), 32_700),
        ("dibian.income_limit_percent", dt.date(2024, 6, 1), 200),
        ("dibao.money_assets_limit_months", dt.date(2024, 6, 1), 48),
        ("dibian.money_assets_limit_months", dt.date(2024, 6, 1), 72),
        ("linshi.cap_months", dt.date(2024, 6, 1), 6),
    ],
)
def test_reference_values(name: str, on: dt.date, value: int) -> None:
    resolved = param(name, on=on, region="330110")
    assert resolved.value == value
    assert resolved.version.source


def test_shipped_files_are_valid_and_cite_sources() -> None:
    params = default_parameters()
    assert len(list(params)) >= 20
    for name in params:
        for v in params.get(name).versions:
            assert v.source
            assert isinstance(v.value, int)
            if "assumption" in v.source:
                assert v.note.strip()


def test_assumptions_are_marked() -> None:
    params = default_parameters()
    for tier in (1, 2, 3, 4):
        (version,) = params.get(f"tekun.care_tier{tier}_percent").versions
        assert "assumption" in version.source
        assert "assumption" in version.note


def test_resolved_cites_the_version() -> None:
    r = param("dibao.standard_fen", on=dt.date(2024, 6, 1))
    assert r.display_zh() == "1259.00 元(2023-07-31 至 2025-01-22,来源 S1、S2)"
    assert r.as_dict()["effective_from"] == "2023-07-31"


def test_region_township_code_finds_city_value() -> None:
    assert param("dibao.standard_fen", on=dt.date(2024, 6, 1), region="330110005000").value == 125_900


def test_unknown_region_and_date_are_refused() -> None:
    with pytest.raises(ParameterError) as caught:
        param("dibao.standard_fen", on=dt.date(2024, 6, 1), region="330200")
    assert caught.value.code == "rules.parameter_missing"
    with pytest.raises(ParameterError):
        param("longevity.age_80_89_fen", on=dt.date(2022, 12, 31))
    with pytest.raises(ParameterError) as caught:
        param("no.such_fen", on=dt.date(2024, 6, 1))
    assert caught.value.code == "rules.parameter_unknown"


@pytest.mark.parametrize(
    ("versions", "unit"),
    [
        ([{"value": 1.5, "effective_from": "2024-01-01", "source": ["S1"]}], "fen"),  # float money
        ([{"value": True, "effective_from": "2024-01-01", "source": ["S1"]}], "fen"),  # bool
        ([{"value": -1, "effective_from": "2024-01-01", "source": ["S1"]}], "fen"),
        ([{"value": 1, "effective_from": "2024-01-01", "source": []}], "fen"),  # no source
        ([{"value": 1, "effective_from": "2024-01-01", "source": ["S99"]}], "fen"),  # unknown source
        ([{"value": 1, "effective_from": "2024-01-01", "source": ["assumption"]}], "fen"),  # no note
        ([{"value": 1, "source": ["S1"]}], "fen"),  # no date
        ([{"value": 1, "effective_from": "2024-01-01", "source": ["S1"]}], "yuan"),  # unit
        ([{"value": 1, "effective_from": "2024-01-01", "effective_to": "2023-12-31", "source": ["S1"]}], "fen"),
        (
            [  # overlapping periods
                {"value": 1, "effective_from": "2024-01-01", "effective_to": "2024-06-30", "source": ["S1"]},
                {"value": 2, "effective_from": "2024-06-30", "source": ["S1"]},
            ],
            "fen",
        ),
        (
            [  # an open-ended version followed by another
                {"value": 1, "effective_from": "2024-01-01", "source": ["S1"]},
                {"value": 2, "effective_from": "2025-01-01", "source": ["S1"]},
            ],
            "fen",
        ),
        ([{"value": 1, "effective_from": "2024-01-01", "source": ["S1"], "amount": 3}], "fen"),  # typo key
    ],
)
def test_invalid_files_are_refused(versions: list[dict[str, Any]], unit: str) -> None:
    with pytest.raises(ParameterError):
        parameters_from_documents([one(versions, unit)], SOURCES)


def test_overlap_allowed_across_regions_and_most_specific_wins() -> None:
    params = parameters_from_documents(
        [one([
            {"value": 100, "effective_from": "2024-01-01", "source": ["S1"], "region": "330100"},
            {"value": 150, "effective_from": "2024-03-01", "source": ["override"], "note": "余杭 top-up", "region": "330110"},
        ])],
        SOURCES,
    )
    assert params.value("x.fen", on=dt.date(2024, 2, 1), region="330110") == 100
    assert params.value("x.fen", on=dt.date(2024, 3, 1), region="330110005000") == 150
    assert params.value("x.fen", on=dt.date(2024, 3, 1), region="330102") == 100  # another district


def test_with_values_cuts_the_version_in_force_and_keeps_later_ones() -> None:
    base = default_parameters()
    on = dt.date(2024, 6, 1)
    changed = base.with_values({"dibao.standard_fen": 140_000}, on=on)
    assert changed.value("dibao.standard_fen", on=on) == 140_000
    assert changed.value("dibao.standard_fen", on=on - dt.timedelta(days=1)) == 125_900
    assert changed.value("dibao.standard_fen", on=dt.date(2025, 1, 22)) == 140_000
    assert changed.value("dibao.standard_fen", on=dt.date(2025, 1, 23)) == 130_100  # scheduled change kept
    assert changed.resolve("dibao.standard_fen", on=on).version.source == ("override",)
    # The base set is untouched (immutable).
    assert base.value("dibao.standard_fen", on=on) == 125_900


def test_with_values_on_the_first_day_of_a_version_replaces_it() -> None:
    changed = default_parameters().with_values({"dibao.standard_fen": 1}, on=dt.date(2023, 7, 31))
    assert changed.value("dibao.standard_fen", on=dt.date(2023, 7, 30)) == 121_600
    assert changed.value("dibao.standard_fen", on=dt.date(2023, 7, 31)) == 1


def test_with_values_for_a_township_layers_over_the_city() -> None:
    on = dt.date(2024, 6, 1)
    changed = default_parameters().with_values({"dibian.cash_topup_fen": 7_400}, on=on, region="330110010000")
    assert changed.value("dibian.cash_topup_fen", on=on, region="330110010000") == 7_400
    assert changed.value("dibian.cash_topup_fen", on=on, region="330110005000") == 0


def test_with_values_refuses_float() -> None:
    with pytest.raises(ParameterError):
        default_parameters().with_values({"dibao.standard_fen": 1259.5}, on=dt.date(2024, 6, 1))  # type: ignore[dict-item]


def test_load_from_directory(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(SOURCES), encoding="utf-8")
    (tmp_path / "x.yaml").write_text(
        yaml.safe_dump(one([{"value": 5, "effective_from": "2024-01-01", "source": ["S1"]}])), encoding="utf-8"
    )
    assert load_parameters(tmp_path).value("x.fen", on=dt.date(2024, 1, 1)) == 5
    assert sorted(p.name for p in PARAMETER_DIR.glob("*.yaml"))  # the shipped directory exists


def test_engine_modules_import_no_django() -> None:
    """The import-linter contract, checked directly: the pure engine runs without Django."""
    code = (
        "import sys; import minzheng.rules.engine, minzheng.rules.programs, minzheng.rules.parameters, "
        "minzheng.rules.whatif, minzheng.rules.population; "
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
