"""Policy parameters kept as data: dated, sourced versions loaded from the YAML files beside this module.

A parameter is a name (``dibao.standard_fen``) with a unit and a list of versions. A version is
``{value, effective_from, effective_to?, source, note, region?}``:

- ``value`` is always an integer. Money is in fen (unit ``fen``); multipliers are integers too
  (``percent``, ``months``, ``years``, ``count``) so that no rule ever multiplies money by a float.
- ``effective_from`` / ``effective_to`` are inclusive dates; an open ``effective_to`` means "until
  replaced". Versions of one parameter in one region may not overlap.
- ``source`` is a list of reference ids from ``sources.yaml`` (the ``[Sxx]`` of
  shared/reference/business_rules.md), ``assumption`` when no source was found (then ``note`` must say
  what was assumed), or ``override`` for what-if and locally configured values.
- ``region`` is an administrative code: ``330100`` (Hangzhou, city-wide), ``330110`` (Yuhang), a
  township code... A lookup for region R uses the most specific version whose region contains R, so a
  district top-up can override the city value without touching it.

``param("dibao.standard_fen", on=date(2024, 6, 1))`` answers a :class:`Resolved`: the value together
with the version used, which is what every trace cites.

No Django here (import-linter contract): the assistance app may store overrides in a model and pass
them in through :meth:`ParameterSet.with_versions`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from minzheng.core.exceptions import ApplicationError

PARAMETER_DIR = Path(__file__).resolve().parent
SOURCES_FILE = "sources.yaml"
UNITS = frozenset({"fen", "percent", "months", "years", "count"})
ASSUMPTION = "assumption"
OVERRIDE = "override"
SPECIAL_SOURCES = frozenset({ASSUMPTION, OVERRIDE})
YUHANG = "330110"
_VERSION_KEYS = frozenset({"value", "effective_from", "effective_to", "source", "note", "region"})


class ParameterError(ApplicationError):
    """A parameter file or override is invalid, or no version is in force for a date and region."""

    code = "rules.parameter"


def region_prefix(code: str) -> str:
    """``330100`` → ``3301``; ``330110000000`` → ``330110``; ``""`` (everywhere) stays ``""``.

    Administrative codes pad with zero pairs, so a region contains another exactly when its
    stripped code is a prefix of the other's.
    """
    code = str(code).strip()
    if code and not code.isdigit():
        raise ParameterError(f"区划代码必须是数字: {code!r}", extra={"region": code})
    while code.endswith("00"):
        code = code[:-2]
    return code


@dataclass(frozen=True)
class Version:
    value: int
    effective_from: dt.date
    effective_to: dt.date | None
    source: tuple[str, ...]
    note: str = ""
    region: str = ""

    def covers(self, on: dt.date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)

    @property
    def period_zh(self) -> str:
        if self.effective_to is None:
            return f"{self.effective_from.isoformat()} 起"
        return f"{self.effective_from.isoformat()} 至 {self.effective_to.isoformat()}"

    @property
    def source_zh(self) -> str:
        return "、".join("假设" if s == ASSUMPTION else "本地配置" if s == OVERRIDE else s for s in self.source)


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    unit: str
    versions: tuple[Version, ...]

    def resolve(self, on: dt.date, region: str = YUHANG) -> Resolved:
        wanted = region_prefix(region)
        best: Version | None = None
        for version in self.versions:
            prefix = region_prefix(version.region)
            # The most specific region wins (a district top-up over the city-wide value).
            more_specific = best is None or len(prefix) > len(region_prefix(best.region))
            if wanted.startswith(prefix) and version.covers(on) and more_specific:
                best = version
        if best is None:
            raise ParameterError(
                f"参数 {self.name}({self.label})在 {on.isoformat()} 对区划 {region} 没有生效的版本",
                code="rules.parameter_missing",
                extra={"parameter": self.name, "on": on.isoformat(), "region": region},
            )
        return Resolved(self.name, self.label, self.unit, best)


@dataclass(frozen=True)
class Resolved:
    """A parameter value together with the version it came from: what a trace cites."""

    name: str
    label: str
    unit: str
    version: Version

    @property
    def value(self) -> int:
        return self.version.value

    def display_zh(self) -> str:
        """``1259.00 元(2023-07-31 至 2025-01-22,来源 S1、S2)``."""
        if self.unit == "fen":
            shown = f"{fen_to_yuan(self.value)} 元"
        elif self.unit == "percent":
            shown = f"{self.value}%"
        elif self.unit == "months":
            shown = f"{self.value} 个月"
        elif self.unit == "years":
            shown = f"{self.value} 周岁"
        else:
            shown = str(self.value)
        return f"{shown}({self.provenance_zh})"

    @property
    def provenance_zh(self) -> str:
        """``2023-07-31 至 2025-01-22,来源 S1、S2``: which version, and on whose authority."""
        return f"{self.version.period_zh},来源 {self.version.source_zh}"

    def as_dict(self) -> dict[str, Any]:
        v = self.version
        return {
            "name": self.name,
            "label": self.label,
            "unit": self.unit,
            "value": v.value,
            "effective_from": v.effective_from.isoformat(),
            "effective_to": v.effective_to.isoformat() if v.effective_to else None,
            "source": list(v.source),
            "note": v.note,
            "region": v.region,
        }


def fen_to_yuan(fen: int) -> str:
    """Integer fen → ``"1259.00"`` without ever passing through a float."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


@dataclass(frozen=True)
class ParameterSet:
    """An immutable, validated collection of parameters. Build it with :func:`load_parameters`."""

    parameters: Mapping[str, Parameter]
    sources: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.parameters

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.parameters))

    def get(self, name: str) -> Parameter:
        try:
            return self.parameters[name]
        except KeyError:
            raise ParameterError(
                f"未知参数: {name}", code="rules.parameter_unknown", extra={"parameter": name}
            ) from None

    def resolve(self, name: str, *, on: dt.date, region: str = YUHANG) -> Resolved:
        return self.get(name).resolve(on, region)

    def value(self, name: str, *, on: dt.date, region: str = YUHANG) -> int:
        return self.resolve(name, on=on, region=region).value

    def with_versions(self, name: str, versions: Iterable[Version]) -> ParameterSet:
        """A copy where ``name`` has exactly ``versions`` (validated like a file)."""
        old = self.get(name)
        new = Parameter(name, old.label, old.unit, tuple(versions))
        _validate_parameter(new, self.sources)
        return replace(self, parameters={**self.parameters, name: new})

    def with_values(
        self,
        values: Mapping[str, int],
        *,
        on: dt.date,
        region: str = YUHANG,
        note: str = "what-if",
    ) -> ParameterSet:
        """A copy where each named parameter takes a new value from ``on`` in ``region``.

        The version in force on ``on`` is cut the day before, and the new value runs until the end of
        that version, so later scheduled versions stay as they were. This is what a what-if
        ("raise the 低保 standard to 1400 元 from next month") means.
        """
        result = self
        for name, value in values.items():
            param = result.get(name)
            current = param.resolve(on, region).version
            own_region = region_prefix(current.region) == region_prefix(region)
            kept: list[Version] = []
            for v in param.versions:
                if v is current and own_region:
                    if v.effective_from < on:
                        kept.append(replace(v, effective_to=on - dt.timedelta(days=1)))
                else:
                    kept.append(v)
            # When the version in force is a wider region's, the new value is a region-specific
            # version layered over it for the same period.
            new = Version(
                value=_check_int(value, f"{name}.value"),
                effective_from=on if own_region else max(on, current.effective_from),
                effective_to=current.effective_to,
                source=(OVERRIDE,),
                note=note,
                region=current.region if own_region else region,
            )
            result = result.with_versions(name, sorted([*kept, new], key=_version_key))
        return result

    def as_dict(self) -> dict[str, Any]:
        return {
            name: {
                "label": p.label,
                "unit": p.unit,
                "versions": [
                    {
                        "value": v.value,
                        "effective_from": v.effective_from.isoformat(),
                        "effective_to": v.effective_to.isoformat() if v.effective_to else None,
                        "source": list(v.source),
                        "note": v.note,
                        "region": v.region,
                    }
                    for v in p.versions
                ],
            }
            for name, p in sorted(self.parameters.items())
        }


def _version_key(v: Version) -> tuple[str, dt.date]:
    return (region_prefix(v.region), v.effective_from)


def _check_int(value: object, where: str) -> int:
    # bool is an int subclass; True as a money amount is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(
            f"{where}: 取值必须是整数(金额以分为单位),实际为 {value!r}",
            extra={"field": where},
        )
    return value


def _check_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise ParameterError(f"{where}: 日期格式应为 YYYY-MM-DD,实际为 {value!r}", extra={"field": where})
    return value


def _parse_version(raw: object, where: str) -> Version:
    if not isinstance(raw, Mapping):
        raise ParameterError(f"{where}: 版本必须是映射", extra={"field": where})
    unknown = set(raw) - _VERSION_KEYS
    if unknown:
        raise ParameterError(f"{where}: 未知字段 {sorted(unknown)}", extra={"field": where})
    for key in ("value", "effective_from", "source"):
        if key not in raw:
            raise ParameterError(f"{where}: 缺少 {key}", extra={"field": f"{where}.{key}"})
    source = raw["source"]
    if isinstance(source, str):
        source = [s.strip() for s in source.split(",")]
    if not isinstance(source, list) or not source or not all(isinstance(s, str) and s for s in source):
        raise ParameterError(f"{where}: source 必须是非空的来源列表", extra={"field": f"{where}.source"})
    effective_to = raw.get("effective_to")
    return Version(
        value=_check_int(raw["value"], f"{where}.value"),
        effective_from=_check_date(raw["effective_from"], f"{where}.effective_from"),
        effective_to=None if effective_to is None else _check_date(effective_to, f"{where}.effective_to"),
        source=tuple(source),
        note=str(raw.get("note") or ""),
        region=str(raw.get("region") or ""),
    )


def _validate_parameter(param: Parameter, sources: Mapping[str, Any]) -> None:
    if param.unit not in UNITS:
        raise ParameterError(f"{param.name}: 未知单位 {param.unit!r}", extra={"parameter": param.name})
    if not param.versions:
        raise ParameterError(f"{param.name}: 至少需要一个版本", extra={"parameter": param.name})
    by_region: dict[str, list[Version]] = {}
    for v in param.versions:
        region_prefix(v.region)  # validates the code
        if v.effective_to is not None and v.effective_to < v.effective_from:
            raise ParameterError(
                f"{param.name}: 版本 {v.effective_from} 的截止日期早于生效日期", extra={"parameter": param.name}
            )
        if v.value < 0:
            raise ParameterError(f"{param.name}: 取值不能为负数", extra={"parameter": param.name})
        for s in v.source:
            if s not in SPECIAL_SOURCES and s not in sources:
                raise ParameterError(
                    f"{param.name}: 来源 {s} 不在 {SOURCES_FILE} 中", extra={"parameter": param.name}
                )
        if ASSUMPTION in v.source and not v.note.strip():
            raise ParameterError(
                f"{param.name}: 假设性取值必须在 note 中说明假设内容", extra={"parameter": param.name}
            )
        by_region.setdefault(region_prefix(v.region), []).append(v)
    for versions in by_region.values():
        ordered = sorted(versions, key=lambda v: v.effective_from)
        for before, after in itertools.pairwise(ordered):
            if before.effective_to is None or before.effective_to >= after.effective_from:
                raise ParameterError(
                    f"{param.name}: 版本 {before.effective_from} 与 {after.effective_from} 的有效期重叠",
                    code="rules.parameter_overlap",
                    extra={"parameter": param.name},
                )


def parameters_from_documents(
    documents: Iterable[Mapping[str, Any]], sources: Mapping[str, Mapping[str, str]]
) -> ParameterSet:
    """Build and validate a set from parsed YAML/JSON documents (``name → {label, unit, versions}``)."""
    params: dict[str, Parameter] = {}
    for doc in documents:
        for name, body in doc.items():
            if name in params:
                raise ParameterError(f"参数 {name} 重复定义", extra={"parameter": name})
            if not isinstance(body, Mapping) or not isinstance(body.get("versions"), list):
                raise ParameterError(f"{name}: 需要 label、unit 和 versions 列表", extra={"parameter": name})
            param = Parameter(
                name=str(name),
                label=str(body.get("label") or name),
                unit=str(body.get("unit") or ""),
                versions=tuple(
                    sorted(
                        (_parse_version(raw, f"{name}[{i}]") for i, raw in enumerate(body["versions"])),
                        key=_version_key,
                    )
                ),
            )
            _validate_parameter(param, sources)
            params[param.name] = param
    return ParameterSet(parameters=params, sources=dict(sources))


def load_parameters(directory: Path | str = PARAMETER_DIR) -> ParameterSet:
    """Load every ``*.yaml`` in ``directory`` (``sources.yaml`` lists the reference ids)."""
    directory = Path(directory)
    raw_sources = yaml.safe_load((directory / SOURCES_FILE).read_text(encoding="utf-8")) or {}
    sources = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in raw_sources.items()}
    documents = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == SOURCES_FILE:
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, Mapping):
            raise ParameterError(f"{path.name}: 顶层必须是参数映射", extra={"file": path.name})
        documents.append(doc)
    return parameters_from_documents(documents, sources)


@lru_cache(maxsize=1)
def default_parameters() -> ParameterSet:
    """The shipped parameter set, loaded and validated once per process."""
    return load_parameters()


def param(name: str, *, on: dt.date, region: str = YUHANG) -> Resolved:
    """``param("dibao.standard_fen", on=date(2024, 6, 1), region="330110").value == 125900``."""
    return default_parameters().resolve(name, on=on, region=region)
