"""Fixtures of the accounts tests: the 三员, an ordinary worker, and a bound request context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from minzheng.core import context

DISTRICT = "330110000000"
COMMUNITY_A = "330110005001"


@pytest.fixture
def secadmin(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["security_admin"], division=DISTRICT, username="anquan")


@pytest.fixture
def sysadmin(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["system_admin"], division=DISTRICT, username="xitong")


@pytest.fixture
def worker(make_staff: Callable[..., Any]) -> Any:
    return make_staff(roles=["community_worker"], division=COMMUNITY_A, username="wangfang")


@pytest.fixture
def from_ip() -> Iterator[Callable[[str], None]]:
    """Bind the request context to a source IP, as RequestContextMiddleware would."""
    tokens: list[Any] = []

    def bind(ip: str) -> None:
        tokens.append(
            context.bind(context.RequestContext(request_id=f"req-{ip}", ip=ip, channel="web"))
        )

    yield bind
    for token in reversed(tokens):
        context.reset(token)
