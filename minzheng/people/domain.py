"""Pure rules of the people registry: input cleaning, search-mode detection, pinyin initials."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin

from minzheng.core import identifiers
from minzheng.people.enums import (
    DisabilityCategory,
    Gender,
    HealthFlag,
    LivingArrangement,
    SelfCare,
)

NAME_RE = re.compile(r"^[\u3400-\u9fff·•]{2,20}$|^[A-Za-z][A-Za-z .'-]{1,63}$")
MAX_ADDRESS = 120


@lru_cache(maxsize=200_000)
def born_by(on: date, age: int) -> date:
    """The latest birth date of someone at least ``age`` years old on ``on`` (a 29 February
    birthday counts from 28 February in other years)."""
    try:
        return on.replace(year=on.year - age)
    except ValueError:  # 29 February
        return date(on.year - age, 2, 28)


def name_initials(name: str) -> str:
    """拼音首字母: 张三丰 → zsf (letters only, lower case)."""
    return "".join(p[0] for p in lazy_pinyin(name, style=Style.FIRST_LETTER) if p and p[0].isalpha()).lower()


_ADDRESS_PREFIX = "浙江省杭州市余杭区"


def mask_address(address: str) -> str:
    """Keep the place, hide the door: "良渚街道玉鸟路8号3幢2单元501室" → "良渚街道玉鸟路****"."""
    address = address.removeprefix(_ADDRESS_PREFIX)
    digit = re.search(r"[0-9０-９一二三四五六七八九十]+[号组幢栋]", address)
    keep = digit.start() if digit else len(address) // 2
    return address[: max(2, min(keep, 24))] + "****"


@dataclass(frozen=True)
class SearchQuery:
    mode: str  # "id_number", "phone", "phone_tail", "initials", "name", "empty", "invalid"
    value: str


_DIGIT_RUN = re.compile(r"\d{5,}")


def query_is_sensitive(raw: str) -> bool:
    """A search text holding 5 or more digits in a row (a full or partial ID or phone number):
    it must not travel in a URL nor be stored with an export request (security A10, DP-2).
    A 4-digit phone tail is not sensitive."""
    return bool(_DIGIT_RUN.search(re.sub(r"[\s-]", "", raw or "")))


def classify_search(raw: str) -> SearchQuery:
    q = (raw or "").strip().replace(" ", "")
    if not q:
        return SearchQuery("empty", "")
    if len(q) == 18 and re.fullmatch(r"\d{17}[\dXx]", q):
        return SearchQuery("id_number", q.upper())
    if re.fullmatch(r"1[3-9]\d{9}", q):
        return SearchQuery("phone", q)
    if re.fullmatch(r"\d{4}", q):
        return SearchQuery("phone_tail", q)
    if re.fullmatch(r"[A-Za-z]{1,10}", q):
        return SearchQuery("initials", q.lower())
    if re.fullmatch(r"[\u3400-\u9fff·]{1,20}", q):
        return SearchQuery("name", q)
    return SearchQuery("invalid", q)


def _choice(value: Any, choices: Any, label: str, errors: dict[str, str], field: str, *, blank: bool) -> str:
    value = (value or "").strip() if isinstance(value, str) else value
    if not value:
        if not blank:
            errors[field] = f"请选择{label}"
        return ""
    if value not in choices.value_set():
        errors[field] = f"{label}取值无效"
        return ""
    return str(value)


def clean_person(data: Mapping[str, Any], *, today: date, partial: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate the fields of a person; returns (cleaned values, field → Chinese message).

    Only known fields are read (no mass assignment); with ``partial`` absent fields are skipped.
    """
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def present(field: str) -> bool:
        return not partial or field in data

    if present("name"):
        name = str(data.get("name") or "").strip()
        if not NAME_RE.match(name):
            errors["name"] = "姓名须为2–20个汉字(或拼写的外文姓名)"
        out["name"] = name
    if present("id_number"):
        try:
            out["id_number"] = identifiers.parse_id_number(str(data.get("id_number") or ""), today=today)
        except identifiers.IdentifierError as exc:
            errors["id_number"] = str(exc)
    if present("birth_date") and data.get("birth_date"):
        born = data["birth_date"]
        if isinstance(born, str):
            try:
                born = date.fromisoformat(born)
            except ValueError:
                errors["birth_date"] = "出生日期格式应为 YYYY-MM-DD"
                born = None
        if born is not None:
            out["birth_date"] = born
    if "id_number" in out:
        from_id = identifiers.id_birth_date(out["id_number"])
        if out.get("birth_date") and out["birth_date"] != from_id:
            errors["birth_date"] = "出生日期与身份证号不一致"
        out["birth_date"] = from_id
        gender = identifiers.id_gender(out["id_number"])
        if data.get("gender") and data["gender"] != gender:
            errors["gender"] = "性别与身份证号不一致"
        out["gender"] = gender
    elif present("gender") and data.get("gender"):
        out["gender"] = _choice(data.get("gender"), Gender, "性别", errors, "gender", blank=False)
    if present("phones"):
        phones = data.get("phones") or []
        if isinstance(phones, str):
            phones = [p for p in re.split(r"[,,;;\s]+", phones) if p]
        cleaned = []
        for p in phones[:5]:
            try:
                cleaned.append(identifiers.normalise_phone(str(p)))
            except identifiers.IdentifierError as exc:
                errors["phones"] = f"{p}:{exc}"
        out["phones"] = list(dict.fromkeys(cleaned))
    if present("address"):
        address = str(data.get("address") or "").strip()
        if len(address) > MAX_ADDRESS:
            errors["address"] = f"地址不超过{MAX_ADDRESS}个字"
        out["address"] = address
    if present("living_arrangement"):
        out["living_arrangement"] = _choice(
            data.get("living_arrangement") or LivingArrangement.WITH_FAMILY, LivingArrangement, "居住状况", errors,
            "living_arrangement", blank=False,
        )
    if present("self_care"):
        out["self_care"] = _choice(
            data.get("self_care") or SelfCare.INDEPENDENT, SelfCare, "自理能力", errors, "self_care", blank=False
        )
    if present("disability_category"):
        out["disability_category"] = _choice(
            data.get("disability_category"), DisabilityCategory, "残疾类别", errors, "disability_category", blank=True
        )
    if present("disability_grade"):
        grade = data.get("disability_grade")
        if grade in (None, ""):
            out["disability_grade"] = None
        else:
            try:
                out["disability_grade"] = int(grade)
            except (TypeError, ValueError):
                out["disability_grade"] = 0
            if not 1 <= out["disability_grade"] <= 4:
                errors["disability_grade"] = "残疾等级应为1–4级"
    if out.get("disability_category") and not out.get("disability_grade") and "disability_grade" not in errors:
        errors["disability_grade"] = "请填写残疾等级"
    if (
        out.get("disability_grade")
        and not out.get("disability_category")
        and present("disability_category")
        and "disability_category" not in errors  # keep "取值无效" for an unknown category
    ):
        errors["disability_category"] = "请选择残疾类别"
    if present("health_flags"):
        flags = data.get("health_flags") or []
        bad = [f for f in flags if f not in HealthFlag.value_set()]
        if bad:
            errors["health_flags"] = "健康标记取值无效"
        out["health_flags"] = sorted(set(flags) - set(bad))
    if present("tags"):
        tags = data.get("tags") or []
        if not isinstance(tags, list) or any(not isinstance(t, str) or len(t) > 20 for t in tags):
            errors["tags"] = "标签须为不超过20字的文字"
        else:
            out["tags"] = sorted({t.strip() for t in tags if t.strip()})
    if "hukou_in_zhejiang" in data and data["hukou_in_zhejiang"] not in (None, ""):
        out["hukou_in_zhejiang"] = bool(data["hukou_in_zhejiang"])
    return out, errors
