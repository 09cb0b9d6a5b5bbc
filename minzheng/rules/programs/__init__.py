"""One module per program, each with ``evaluate`` (one case → Decision with trace) and ``evaluate_many``
(numpy arrays → VectorResult). Pure Python and numpy: no Django (import-linter contract).

- ``household``: who counts in the household (共同生活家庭成员), scalar and vector.
- ``dibao`` 低保, ``dibian`` 低边, ``tekun`` 特困, ``longevity`` 高龄津贴, ``children`` 儿童福利,
  ``linshi`` 临时救助 cap.
"""

from minzheng.rules.programs import children, dibao, dibian, household, linshi, longevity, tekun

__all__ = ["children", "dibao", "dibian", "household", "linshi", "longevity", "tekun"]
