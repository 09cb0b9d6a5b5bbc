"""Architecture rules (DESIGN §3, §4.5, §4.6) that hold for the whole code base."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path

from django.apps import apps
from django.db import models

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minzheng"
DOMAINS = (
    "eldercare",
    "meals",
    "safety",
    "assistance",
    "children",
    "community",
    "socialorgs",
    "charity",
    "civil",
)
# DESIGN §3: core < divisions < (people | accounts) < (ledger | rules) < domains < (cockpit | integrations)
# < web < synth. Apps on one layer are siblings: none may point at another.
LAYER = {
    "core": 0,
    "divisions": 1,
    "people": 2,
    "accounts": 2,
    "ledger": 3,
    "rules": 3,
    **dict.fromkeys(DOMAINS, 4),
    "cockpit": 5,
    "integrations": 5,
    "web": 6,
    "synth": 7,
}


def _app_of(model: type[models.Model]) -> str | None:
    """``people`` for minzheng.people; None for Django's and third-party apps (ignored)."""
    name = model._meta.app_config.name
    return name.split(".")[1] if name.startswith("minzheng.") else None


def relation_violations(edges: list[tuple[str, str, str]]) -> list[str]:
    """Each (source app, target app, description) that points up a layer or sideways."""
    problems = []
    for source, target, what in edges:
        if source == target:
            continue
        if source not in LAYER or target not in LAYER:
            problems.append(
                f"{what}: app {source if source not in LAYER else target} has no layer in LAYER"
            )
        elif LAYER[target] > LAYER[source]:
            problems.append(
                f"{what}: {source} (layer {LAYER[source]}) points up to {target} (layer {LAYER[target]})"
            )
        elif LAYER[target] == LAYER[source]:
            problems.append(f"{what}: {source} points sideways to its sibling {target}")
    return problems


def _relation_edges() -> list[tuple[str, str, str]]:
    edges = []
    for model in apps.get_models(include_auto_created=True):
        source = _app_of(model)
        if source is None:
            continue
        # Forward relations only: FKs and one-to-ones (parent links included), then many-to-manys
        for field in [*model._meta.fields, *model._meta.many_to_many]:
            if not field.is_relation or field.related_model is None:
                continue
            target = _app_of(field.related_model)
            if target is None:
                continue
            edges.append(
                (
                    source,
                    target,
                    f"{model._meta.label}.{field.name} → {field.related_model._meta.label}",
                )
            )
    return edges


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"

    proc = subprocess.run(
        [str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_no_foreign_key_points_up_or_sideways():
    edges = _relation_edges()

    assert edges, "expected the platform's models to have relations"
    problems = relation_violations(edges)
    assert problems == [], "\n".join(problems)


def test_the_relation_check_catches_bad_edges():
    # The checker itself: up, sideways between domains, and between the two sibling platform apps
    assert relation_violations([("people", "divisions", "ok"), ("web", "core", "ok")]) == []
    assert len(relation_violations([("divisions", "people", "up")])) == 1
    assert len(relation_violations([("meals", "eldercare", "sideways")])) == 1
    assert len(relation_violations([("people", "accounts", "sideways")])) == 1
    assert len(relation_violations([("accounts", "people", "sideways")])) == 1
    assert len(relation_violations([("people", "mystery", "unknown")])) == 1


def test_every_platform_app_has_a_layer():
    ours = {c.name.split(".")[1] for c in apps.get_app_configs() if c.name.startswith("minzheng.")}

    assert ours - set(LAYER) == set()


SIGNALS = re.compile(
    r"django\.db\.models\.signals|from django\.db\.models import signals|@receiver\b|django\.dispatch"
)
SIGNALS_ALLOWED = {
    PACKAGE / "core" / "events.py",
    # instances_from_rows only asks whether a model has __init__ receivers (then it takes the ORM path)
    PACKAGE / "core" / "models.py",
    PACKAGE / "core" / "tests" / "test_models.py",
}


def test_no_django_signals_for_domain_flow():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "apps.py" or path in SIGNALS_ALLOWED:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if SIGNALS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")

    assert offenders == [], (
        "domain flow goes through minzheng.core.events (DESIGN §4.6):\n" + "\n".join(offenders)
    )


MONEY_APPS = {"ledger", "meals", "assistance", "charity"}
MONEY_NAME = re.compile(r"fen|amount|price|subsidy|balance|fee|cost|pay", re.IGNORECASE)


def test_no_float_money_fields():
    """Money is integer fen (DESIGN §4.5, security M-1): no FloatField in a money app or on any
    field named like money. Coordinates and scores elsewhere may be floats."""
    floats = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models(include_auto_created=True)
        if _app_of(model) is not None
        for field in model._meta.get_fields()
        if isinstance(field, models.FloatField)
        and (model._meta.app_label in MONEY_APPS or MONEY_NAME.search(field.name))
    ]

    assert floats == [], "FloatField holding money in " + ", ".join(floats) + ": use integer fen"


# A column holding personal information, by its name: sealed values and their blind indexes and
# masks, names, contact and address, birth, identity, bank, location, health, disability and means.
PERSONAL = re.compile(
    r"sealed|bidx|masked|(^|_)name$|phone|address|birth|id_number|bank_(account|name|ref)|(^|_)lat$|(^|_)lon$"
    r"|location|health|disab|self_care|(^|_)adl|income|asset|vehicle|guardian|contact|face|card_no|credential",
    re.IGNORECASE,
)
NOT_PERSONAL_TABLES = {"divisions_division"}


def documented_columns(text: str) -> set[str]:
    """``table.column`` from the dictionary's first column: ``t.a, b / c; u.d`` lists columns of t
    and then of u; ``*`` is a wildcard (``t.*``, ``*.created_by_name``)."""
    found: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| table.column"):
            continue
        cell = line.split("|")[1].strip().strip("`")
        table = ""
        for item in re.split(r"[,/;]", cell):
            item = item.strip()
            if "." in item:  # a full table.column; the columns after it belong to that table
                table, _, item = item.partition(".")
            if table and item:
                found.add(f"{table}.{item}")
    return found


def test_every_personal_data_field_is_in_the_data_dictionary():
    """DP-8: a new column that holds personal information fails CI until the data dictionary says
    what it is, how it is protected and how it is shown."""
    documented = documented_columns((ROOT / "docs" / "data-dictionary.md").read_text(encoding="utf-8"))
    missing = sorted(
        column
        for model in apps.get_models()
        if _app_of(model) is not None and model._meta.db_table not in NOT_PERSONAL_TABLES
        for field in model._meta.concrete_fields
        if PERSONAL.search(field.column)
        for column in [f"{model._meta.db_table}.{field.column}"]
        if not any(fnmatch.fnmatchcase(column, entry) or fnmatch.fnmatchcase(column.removesuffix("_id"), entry)
                   for entry in documented)
    )
    assert missing == [], "personal-data columns missing from docs/data-dictionary.md:\n" + "\n".join(missing)


def test_the_dictionary_reader_understands_the_shorthand():
    text = "| table.column | x |\n|---|---|\n| t.a, b / c | x |\n| u.* | y |\n| v.p/q; w.r, s | z |\n"
    assert documented_columns(text) == {"t.a", "t.b", "t.c", "u.*", "v.p", "v.q", "w.r", "w.s"}
