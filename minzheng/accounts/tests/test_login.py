"""Sign-in (security AUTH-4, AUTH-6; attacks A1, A2): lockout, per-IP throttle, second factor."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from minzheng.accounts.models import Staff
from minzheng.accounts.services import (
    GENERIC_LOGIN_MESSAGE,
    LoginRefused,
    login_complete,
    login_password,
    login_second_factor,
    needs_second_factor,
    staff_disable,
)
from minzheng.core.exceptions import Throttled, ValidationFailed
from minzheng.core.models import AuditEvent

STRONG = "Civil-Affairs#2024"
WRONG = "Not-The-Password#1"
START = datetime(2025, 3, 3, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _fail(username: str, password: str = WRONG) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        login_password(username=username, password=password)
    return caught.value


def _events(event_type: str, username: str) -> int:
    return AuditEvent.objects.filter(event_type=event_type, actor_username=username).count()


def test_right_password_signs_in(worker):
    assert login_password(username="wangfang", password=STRONG) == worker


def test_username_is_case_insensitive_at_sign_in(worker):
    assert login_password(username="  WangFang ", password=STRONG) == worker


def test_wrong_password_and_unknown_user_get_the_same_answer(worker):
    wrong = _fail("wangfang")
    unknown = _fail("nobody")

    assert wrong.message == unknown.message == GENERIC_LOGIN_MESSAGE
    assert wrong.code == unknown.code == "login_failed"
    assert wrong.status_code == unknown.status_code == 400
    assert _events("login.failure", "nobody") == 1


def test_five_failures_lock_the_account_even_against_the_right_password(worker):
    with time_machine.travel(START, tick=False) as clock:
        # Given five wrong passwords
        for _ in range(5):
            assert _fail("wangfang").message == GENERIC_LOGIN_MESSAGE
            clock.shift(timedelta(seconds=10))

        # Then the account is locked, with a trace of each failure and of the lockout
        assert _events("login.failure", "wangfang") == 5
        assert _events("login.lockout", "wangfang") == 1
        lockout = AuditEvent.objects.get(event_type="login.lockout")
        assert lockout.extra == {"minutes": 15}
        assert lockout.object_id == str(worker.pk)

        # And the right password is refused with the very same message
        assert _fail("wangfang", STRONG).message == GENERIC_LOGIN_MESSAGE

        # And it still is just before the 15 minutes are over
        clock.move_to(Staff.objects.get(pk=worker.pk).locked_until - timedelta(seconds=1))
        assert _fail("wangfang", STRONG).message == GENERIC_LOGIN_MESSAGE

        # When 15 minutes and one second have passed since the lockout
        clock.move_to(Staff.objects.get(pk=worker.pk).locked_until + timedelta(seconds=1))

        # Then the right password works again
        assert login_password(username="wangfang", password=STRONG) == worker


def test_lockout_lasts_fifteen_minutes_from_the_fifth_failure(worker):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            _fail("wangfang")

        clock.shift(timedelta(minutes=15, seconds=1))

        assert login_password(username="wangfang", password=STRONG) == worker


@pytest.mark.parametrize("role", ["security_admin", "system_admin", "auditor"])
def test_admin_lockout_lasts_thirty_minutes(make_staff, role):
    admin = make_staff(roles=[role], division="330110000000", username="sanyuan")
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(5):
            _fail("sanyuan")
        assert AuditEvent.objects.get(event_type="login.lockout").extra == {"minutes": 30}

        clock.shift(timedelta(minutes=15, seconds=1))
        assert _fail("sanyuan", STRONG).message == GENERIC_LOGIN_MESSAGE

        clock.move_to(START + timedelta(minutes=30, seconds=1))
        assert login_password(username="sanyuan", password=STRONG) == admin


def test_success_resets_the_failure_counter(worker):
    with time_machine.travel(START, tick=False):
        # Given four failures, then a successful sign-in
        for _ in range(4):
            _fail("wangfang")
        login_complete(staff=login_password(username="wangfang", password=STRONG))

        # When four more failures follow
        for _ in range(4):
            _fail("wangfang")

        # Then the account is not locked
        assert _events("login.lockout", "wangfang") == 0
        assert login_password(username="wangfang", password=STRONG) == worker
    assert _events("login.success", "wangfang") == 1


def test_failures_outside_the_window_do_not_add_up(worker):
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(4):
            _fail("wangfang")
        clock.shift(timedelta(minutes=15, seconds=1))
        _fail("wangfang")

        assert _events("login.lockout", "wangfang") == 0
        assert login_password(username="wangfang", password=STRONG) == worker


def test_disabled_account_gets_the_generic_answer(worker, sysadmin):
    staff_disable(actor=sysadmin, staff=worker, reason="调离")

    assert _fail("wangfang", STRONG).message == GENERIC_LOGIN_MESSAGE


def test_one_ip_is_throttled_after_twenty_failures_across_usernames(worker, from_ip):
    with time_machine.travel(START, tick=False) as clock:
        # Given 20 failures from one address, each for a different username (credential stuffing)
        from_ip("10.9.8.7")
        for i in range(20):
            _fail(f"guess{i:02d}")
            clock.shift(timedelta(seconds=5))

        # Then that address is throttled, even with a right password
        with pytest.raises(Throttled) as caught:
            login_password(username="wangfang", password=STRONG)
        assert caught.value.status_code == 429
        assert "登录尝试过于频繁" in caught.value.message
        assert AuditEvent.objects.filter(event_type="login.throttled", ip="10.9.8.7").count() == 1

        # And another address still signs in
        from_ip("10.1.1.1")
        assert login_password(username="wangfang", password=STRONG) == worker

        # And after ten minutes the first address may try again
        clock.move_to(START + timedelta(seconds=5 * 20 + 10 * 60 + 1))
        from_ip("10.9.8.7")
        assert login_password(username="wangfang", password=STRONG) == worker


def test_nineteen_failures_do_not_throttle(worker, from_ip):
    from_ip("10.9.8.7")
    for i in range(19):
        _fail(f"guess{i:02d}")

    assert login_password(username="wangfang", password=STRONG) == worker


# --- Second factor (AUTH-6) ------------------------------------------------------------------


def _device(staff: Staff) -> TOTPDevice:
    return TOTPDevice.objects.create(user=staff, name="TOTP", confirmed=True)


def _token(device: TOTPDevice, *, offset: int = 0) -> str:
    value = (
        totp(device.bin_key, device.step, device.t0, device.digits, device.drift) + offset
    ) % 10**device.digits
    return f"{value:0{device.digits}d}"


def test_right_totp_code_completes_the_sign_in(secadmin):
    device = _device(secadmin)

    assert login_second_factor(staff=secadmin, token=_token(device)) == device
    assert (
        AuditEvent.objects.filter(event_type="login.second_factor", actor_id=secadmin.pk).count()
        == 1
    )


def test_wrong_totp_code_is_refused_naming_the_token(secadmin):
    device = _device(secadmin)

    with pytest.raises(ValidationFailed) as caught:
        login_second_factor(staff=secadmin, token=_token(device, offset=1))

    assert set(caught.value.fields) == {"token"}
    assert _events("login.failure", "anquan") == 1


def test_unconfirmed_device_does_not_count(secadmin):
    device = TOTPDevice.objects.create(user=secadmin, name="TOTP", confirmed=False)

    with pytest.raises(ValidationFailed):
        login_second_factor(staff=secadmin, token=_token(device))


def test_wrong_totp_codes_count_towards_the_lockout(secadmin):
    device = _device(secadmin)
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            with pytest.raises(ValidationFailed):
                login_second_factor(staff=secadmin, token=_token(device, offset=1))

        assert _events("login.lockout", "anquan") == 1
        # The password no longer opens the account, nor does a right code
        assert _fail("anquan", STRONG).message == GENERIC_LOGIN_MESSAGE
        with pytest.raises(LoginRefused):
            login_second_factor(staff=Staff.objects.get(pk=secadmin.pk), token=_token(device))


def test_the_three_admin_roles_need_a_second_factor(secadmin, sysadmin, make_staff):
    auditor = make_staff(roles=["auditor"], division="330110000000")

    assert needs_second_factor(secadmin)
    assert needs_second_factor(sysadmin)
    assert needs_second_factor(auditor)
