"""A small OpenFisca country package for Yuhang: 低保, 低边 and 高龄津贴, monthly.

It is the anchor of bench/assistance_whatif.py: the same rules as minzheng.rules, written the
OpenFisca way (entities, variables with formulas, parameters as OpenFisca YAML mirroring
minzheng/rules/parameters), computed on the same arrays in the same run.

Money: OpenFisca's ``float`` is float32 (exact only up to 2^24 fen = 167 772.16 元), so every
money variable here is ``int`` (numpy int32). Formulas widen to int64 before multiplying, inputs
are asserted below 2^31 by the bench, and OpenFisca's ``household.sum`` (a float64 ``bincount``)
is exact for these magnitudes (< 2^53). Nothing is rounded because nothing is ever fractional.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from openfisca_core.periods import Instant
from openfisca_core.reforms import Reform
from openfisca_core.taxbenefitsystems import TaxBenefitSystem

from .entities import ENTITIES
from .variables import VARIABLES

PARAMETERS = Path(__file__).resolve().parent / "parameters"


class YuhangTaxBenefitSystem(TaxBenefitSystem):
    def __init__(self) -> None:
        super().__init__(ENTITIES)
        self.add_variables(*VARIABLES)
        self.load_parameters(str(PARAMETERS))


def with_parameter_values(
    system: TaxBenefitSystem, values: Mapping[str, int], *, start: dt.date, stop: dt.date | None
) -> TaxBenefitSystem:
    """A reform setting ``values`` (dotted OpenFisca parameter paths) from ``start`` to ``stop``."""

    class WhatIf(Reform):
        def apply(self) -> None:
            def modify(parameters):  # type: ignore[no-untyped-def]
                for path, value in values.items():
                    node = parameters
                    for part in path.split("."):
                        node = getattr(node, part)
                    node.update(
                        start=Instant((start.year, start.month, start.day)),
                        stop=Instant((stop.year, stop.month, stop.day)) if stop else None,
                        value=value,
                    )
                return parameters

            self.modify_parameters(modifier_function=modify)

    return WhatIf(system)
