"""Session lifetime (security AUTH-5, AUTH-3, AC-6; attack A8): idle and absolute timeouts."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.sessions.models import Session

from minzheng.accounts.models import Staff
from minzheng.accounts.services import password_expired, staff_disable_dormant
from minzheng.core.models import AuditEvent

START = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _goes_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith("/login/")


def test_idle_business_session_ends_after_thirty_minutes(worker, login, client):
    with time_machine.travel(START, tick=False) as clock:
        login(worker)
        assert client.get("/").status_code == 200

        # Activity keeps the session alive
        clock.shift(timedelta(minutes=29))
        assert client.get("/").status_code == 200
        clock.shift(timedelta(minutes=29))
        assert client.get("/").status_code == 200

        # 31 idle minutes end it
        clock.shift(timedelta(minutes=31))
        assert _goes_to_login(client.get("/"))


def test_background_refreshes_do_not_keep_an_unattended_session_alive(worker, login, client):
    """The console's board refreshes itself every few seconds; that is not the operator's activity."""
    with time_machine.travel(START, tick=False) as clock:
        login(worker)
        assert client.get("/").status_code == 200
        for _ in range(6):  # 30 minutes of background refreshes, nobody at the keyboard
            clock.shift(timedelta(minutes=5))
            assert client.get("/", headers={"X-MZ-Background": "1"}).status_code == 200
        clock.shift(timedelta(minutes=1))
        assert _goes_to_login(client.get("/", headers={"X-MZ-Background": "1"}))
        assert AuditEvent.objects.filter(event_type="logout", reason="空闲超时").exists()


@pytest.mark.parametrize("idle", [timedelta(minutes=15, seconds=1), timedelta(minutes=16)])
def test_idle_admin_session_ends_after_fifteen_minutes(sysadmin, login, client, idle):
    with time_machine.travel(START, tick=False) as clock:
        login(sysadmin)
        first = client.get("/")
        assert first.status_code == 200

        clock.shift(idle)
        assert _goes_to_login(client.get("/"))


def test_session_ends_twelve_hours_after_sign_in_whatever_the_activity(worker, login, client):
    with time_machine.travel(START, tick=False) as clock:
        login(worker)
        for _ in range(35):  # a request every 20 minutes for 11 h 40 min
            clock.shift(timedelta(minutes=20))
            assert client.get("/").status_code == 200

        clock.shift(timedelta(minutes=21))  # 12 h 1 min after sign-in

        assert _goes_to_login(client.get("/"))
        assert AuditEvent.objects.filter(event_type="logout", reason="会话超过12小时").count() == 1


def test_logout_deletes_the_server_side_session(worker, login, client):
    login(worker)
    cookie = client.cookies["mz_session"].value
    assert Session.objects.filter(session_key=cookie).exists()

    client.post("/logout/")

    assert not Session.objects.filter(session_key=cookie).exists()
    # Replaying the old cookie gets the login page
    client.cookies["mz_session"] = cookie
    assert _goes_to_login(client.get("/"))


def test_password_older_than_ninety_days_has_expired(worker):
    with time_machine.travel(worker.password_changed_at + timedelta(days=90), tick=False):
        assert not password_expired(worker)
    with time_machine.travel(
        worker.password_changed_at + timedelta(days=90, seconds=1), tick=False
    ):
        assert password_expired(worker)


def test_expired_password_sends_every_page_to_the_change_page(worker, login, client):
    with time_machine.travel(worker.password_changed_at + timedelta(days=91), tick=False):
        login(worker)
        response = client.get("/people/")

    assert response.status_code == 302
    assert response["Location"] == "/password/"


def test_dormant_accounts_are_disabled(make_staff):
    # Given accounts created 91 days ago: one last used then, one never used, one used 89 days ago
    with time_machine.travel(START - timedelta(days=91), tick=False):
        used_long_ago = make_staff(username="longago")
        make_staff(username="neverused")
        recent = make_staff(username="recent")
    Staff.objects.filter(pk=used_long_ago.pk).update(last_login=START - timedelta(days=91))
    Staff.objects.filter(pk=recent.pk).update(last_login=START - timedelta(days=89))
    # And an account created yesterday, not used yet
    with time_machine.travel(START - timedelta(days=1), tick=False):
        make_staff(username="brandnew")

    # When the daily job runs
    with time_machine.travel(START, tick=False):
        disabled = staff_disable_dormant()

    # Then the two accounts unused for 90 days are disabled, with a reason on record
    active = dict(Staff.objects.values_list("username", "is_active"))
    assert active == {"longago": False, "neverused": False, "recent": True, "brandnew": True}
    assert disabled == 2
    reasons = AuditEvent.objects.filter(event_type="staff.disable").values_list("reason", flat=True)
    assert list(reasons) == ["90天未登录,自动停用"] * 2
