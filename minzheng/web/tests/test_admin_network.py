"""AUTH-8: the 三员 screens exist only on the management networks (spoofed REMOTE_ADDR)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from conftest import COMMUNITY_A, DISTRICT

INSIDE = "10.20.30.40"  # a government-intranet address (10.0.0.0/8 is allow-listed by default)
OUTSIDE = "203.0.113.5"

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/staff/", "/staff/new/", "/audit/"])
def test_anonymous_outside_gets_404_not_a_login_prompt(client: Client, path: str) -> None:
    assert client.get(path, REMOTE_ADDR=OUTSIDE).status_code == 404
    inside = client.get(path, REMOTE_ADDR=INSIDE)
    assert inside.status_code == 302
    assert "/login/" in inside["Location"]


@pytest.mark.parametrize(("role", "path"), [("system_admin", "/staff/"), ("auditor", "/audit/"),
                                            ("security_admin", "/staff/")])
def test_an_admin_reaches_the_screen_only_from_inside(client: Client, make_staff: Callable[..., Any],
                                                    login: Callable[[Any], Client], role: str, path: str) -> None:
    login(make_staff((role,), DISTRICT, username=f"{role}_1"))
    assert client.get(path, REMOTE_ADDR=INSIDE).status_code == 200
    assert client.get(path, REMOTE_ADDR=OUTSIDE).status_code == 404
    # Every screen of a 三员 holder, even the home page, is hidden outside.
    assert client.get("/", REMOTE_ADDR=OUTSIDE).status_code == 404
    assert client.get("/", REMOTE_ADDR=INSIDE).status_code == 200


def test_a_forged_forwarded_header_does_not_get_in(client: Client, make_staff: Callable[..., Any],
                                                   login: Callable[[Any], Client]) -> None:
    login(make_staff(("system_admin",), DISTRICT, username="sys_fwd"))
    r = client.get("/staff/", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR=INSIDE)
    assert r.status_code == 404


def test_business_staff_work_from_anywhere(client: Client, make_staff: Callable[..., Any],
                                           login: Callable[[Any], Client]) -> None:
    login(make_staff(("community_worker",), COMMUNITY_A, username="worker_out"))
    assert client.get("/people/", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/staff/", REMOTE_ADDR=OUTSIDE).status_code == 404


def test_the_allow_list_is_configuration(client: Client, make_staff: Callable[..., Any],
                                         login: Callable[[Any], Client]) -> None:
    from django.conf import settings

    login(make_staff(("system_admin",), DISTRICT, username="sys_cfg"))
    narrowed = {**settings.MINZHENG, "ADMIN_NETWORKS": ("172.30.8.0/24",)}
    with override_settings(MINZHENG=narrowed):
        assert client.get("/staff/", REMOTE_ADDR="172.30.8.77").status_code == 200
        assert client.get("/staff/", REMOTE_ADDR=INSIDE).status_code == 404
