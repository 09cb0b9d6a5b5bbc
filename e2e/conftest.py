"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

They skip when /usr/bin/chromium is missing, and fail instead under MINZHENG_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import new_tab

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "e2e"


@pytest.fixture
def page(chromium: Any) -> Any:
    return new_tab(chromium, 1366, 860)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
