"""The division tree (NBS 2023): the data-scope anchor every read is cut to."""

from __future__ import annotations

import pytest

from minzheng.core.exceptions import NotFound, ValidationFailed
from minzheng.core.models import AuditEvent
from minzheng.divisions.models import Division
from minzheng.divisions.selectors import (
    division_ancestors,
    division_get,
    division_subtree,
    township_list,
)
from minzheng.divisions.services import division_load, division_load_csv

DISTRICT = "330110000000"
LIANGZHU = "330110010000"


def _snapshot() -> list[tuple]:
    return list(
        Division.objects.order_by("code").values_list(
            "code", "name", "level", "parent_id", "path", "depth"
        )
    )


def test_the_migration_loaded_the_whole_district(db):
    assert Division.objects.count() == 236
    assert Division.objects.filter(level="district").count() == 1
    assert Division.objects.filter(level="township").count() == 12
    assert Division.objects.filter(level="village").count() == 223
    assert division_get(code=DISTRICT).name == "余杭区"
    assert [d.name for d in township_list()][:3] == ["五常街道", "仁和街道", "良渚街道"]


def test_similar_to_community_units_are_not_civil_affairs_units(db):
    assert division_get(code="330110010400").is_civil_affairs_unit is False
    assert list(
        Division.objects.filter(is_civil_affairs_unit=False).values_list("code", flat=True)
    ) == ["330110010400"]


def test_paths_are_prefix_consistent(db):
    by_code = {d.code: d for d in Division.objects.all()}
    for division in by_code.values():
        assert division.path.endswith(f"{division.code}/")
        assert division.depth == division.path.count("/") - 1
        if division.parent_id is None:
            assert division.level == "district"
            assert division.path == f"{division.code}/"
        else:
            parent = by_code[division.parent_id]
            assert division.path == f"{parent.path}{division.code}/"
            assert division.depth == parent.depth + 1


def test_levels_follow_depth(db):
    assert set(Division.objects.filter(depth=0).values_list("level", flat=True)) == {"district"}
    assert set(Division.objects.filter(depth=1).values_list("level", flat=True)) == {"township"}
    assert set(Division.objects.filter(depth=2).values_list("level", flat=True)) == {"village"}


def test_liangzhu_subtree(db):
    # 良渚街道 itself and its 45 communities and villages
    subtree = list(division_subtree(code=LIANGZHU))

    assert len(subtree) == 46
    assert subtree[0].code == LIANGZHU
    assert sum(d.level == "village" for d in subtree) == 45
    assert all(d.path.startswith(subtree[0].path) for d in subtree)


def test_ancestors_run_from_the_district_down(db):
    village = division_get(code="330110005001")

    assert [d.name for d in division_ancestors(division=village)] == [
        "余杭区",
        "五常街道",
        village.name,
    ]


def test_unknown_code_is_not_found(db):
    with pytest.raises(NotFound) as caught:
        division_get(code="330110999999")

    assert caught.value.message == "区划不存在"


def test_village_short_name_drops_the_committee(db):
    assert division_get(code="330110010200").short_name == "良渚村"
    assert division_get(code="330110010200").kind_label == "村"
    assert division_get(code="330110010001").kind_label == "社区"


def test_reloading_the_shipped_file_changes_nothing(db):
    before = _snapshot()

    assert division_load_csv() == 236

    assert _snapshot() == before
    assert AuditEvent.objects.get(event_type="divisions.load").extra == {"rows": 236}


def _row(
    code: str, name: str = "新社区", level: str = "village", parent: str = LIANGZHU
) -> dict[str, str]:
    return {"code": code, "name": name, "level": level, "parent_code": parent, "source": "test"}


def test_a_new_village_is_added_under_its_township(db):
    assert division_load(rows=[_row("330110010099")]) == 1

    added = division_get(code="330110010099")
    assert added.path == f"{DISTRICT}/{LIANGZHU}/330110010099/"
    assert added.depth == 2
    assert added.is_civil_affairs_unit


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (_row("33011001009"), "code"),
        (_row("3301100100AB"), "code"),
        (_row("330110010099", level="hamlet"), "level"),
        (_row("330110010099", parent="330110999000"), "parent_code"),
        (_row("330110010099", parent=""), "parent_code"),
        (_row("330110010099", parent="330110010001"), "parent_code"),  # a village under a village
        (
            _row("330110099000", level="township", parent=LIANGZHU),
            "parent_code",
        ),  # a township under a township
    ],
)
def test_bad_rows_are_refused_and_nothing_changes(db, bad, field):
    # Given a load whose first row is good and whose second is bad
    before = _snapshot()

    with pytest.raises(ValidationFailed) as caught:
        division_load(rows=[_row("330110010098", name="好社区"), bad])

    # Then the refusal names the field and the line, and the whole load is undone
    assert set(caught.value.fields) == {field}
    assert caught.value.fields[field].startswith("第3行")
    assert _snapshot() == before
    assert not AuditEvent.objects.filter(event_type="divisions.load").exists()
