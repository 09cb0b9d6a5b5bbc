"""Enumerations with Chinese labels that pure code can use (no Django import).

    class Gender(LabelledEnum):
        MALE = "M", "男"

``Gender.MALE == "M"``, ``Gender.MALE.label == "男"``, ``Gender.as_choices()`` for model fields
and forms, ``Gender.value_set()`` for membership checks.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    _label: str

    def __new__(cls, value: str, label: str = "") -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label or value
        return member

    @property
    def label(self) -> str:
        return self._label

    @classmethod
    def as_choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m._label) for m in cls]

    @classmethod
    def value_set(cls) -> frozenset[str]:
        return frozenset(m.value for m in cls)
