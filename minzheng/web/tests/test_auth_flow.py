"""Sign-in through the real login form: session fixation, lockout, timeouts, second factor,
password expiry (security AUTH-2..AUTH-6; attacks A1, A8, A9)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from conftest import COMMUNITY_A, DISTRICT, STRONG_PASSWORD
from minzheng.accounts.services import GENERIC_LOGIN_MESSAGE

SESSION_COOKIE = "mz_session"
NEW_PASSWORD = "Harbour#Lights2025"
PUBLIC = {"web:login", "web:login-otp", "web:login-otp-setup", "web:healthz"}


def _audit(event_type: str, **filters: Any) -> int:
    return apps.get_model("core", "AuditEvent").objects.filter(event_type=event_type, **filters).count()


def _staff(pk: int) -> Any:
    return apps.get_model("accounts", "Staff").objects.get(pk=pk)


def sign_in(client: Client, username: str, password: str = STRONG_PASSWORD, **extra: str) -> Any:
    return client.post("/login/", {"username": username, "password": password, **extra})


@pytest.fixture
def worker(make_staff: Callable[..., Any]) -> Any:
    return make_staff(("community_worker",), COMMUNITY_A, username="wangfang", full_name="王芳")


@pytest.fixture
def sysadmin(make_staff: Callable[..., Any]) -> Any:
    return make_staff(("system_admin",), DISTRICT, username="xitong", full_name="系统管理员甲")


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


# --- Success and session fixation (A8) -------------------------------------------------------


def test_login_success_issues_a_new_session_and_audits(client: Client, worker: Any) -> None:
    assert client.get("/people/").status_code == 302  # an anonymous visit opens a session
    planted = client.cookies[SESSION_COOKIE].value
    assert Session.objects.filter(session_key=planted).exists()

    response = sign_in(client, "wangfang", next="/people/")

    assert response.status_code == 302
    assert response.url == "/people/"
    fresh = client.cookies[SESSION_COOKIE].value
    assert fresh != planted
    assert not Session.objects.filter(session_key=planted).exists()
    assert _audit("login.success", actor_id=worker.pk) == 1
    page = client.get("/people/")
    assert page.status_code == 200
    assert "人员查询" in page.content.decode()


def test_a_planted_session_key_is_not_signed_in(worker: Any) -> None:
    attacker = Client()
    attacker.get("/people/")
    planted = attacker.cookies[SESSION_COOKIE].value
    victim = Client()
    victim.cookies[SESSION_COOKIE] = planted
    sign_in(victim, "wangfang")
    assert victim.cookies[SESSION_COOKIE].value != planted
    assert attacker.get("/").status_code == 302, "the attacker's key must not ride on the victim's login"


def test_login_never_redirects_off_site(client: Client, worker: Any) -> None:
    response = sign_in(client, "wangfang", next="https://evil.example/steal")
    assert response.status_code == 302
    assert response.url == "/"


def test_wrong_password_shows_the_generic_message(client: Client, worker: Any) -> None:
    response = sign_in(client, "wangfang", "Wrong#Password2024")
    assert response.status_code == 400
    body = response.content.decode()
    assert GENERIC_LOGIN_MESSAGE in body
    assert "Wrong#Password2024" not in body, "a password is never rendered back"
    assert _audit("login.failure", result="failure") == 1
    unknown = sign_in(client, "nobody", "Wrong#Password2024")
    assert GENERIC_LOGIN_MESSAGE in unknown.content.decode(), "unknown accounts look the same"


# --- Lockout (A1) -------------------------------------------------------------------------------


def test_five_failures_lock_the_account_even_for_the_right_password(client: Client, worker: Any,
                                                                      clock: Any) -> None:
    messages = []
    for _ in range(5):
        response = sign_in(client, "wangfang", "Wrong#Password2024")
        assert response.status_code == 400
        messages.append(_error_text(response))
    right = sign_in(client, "wangfang")

    assert right.status_code == 400
    assert _error_text(right) == messages[0] == GENERIC_LOGIN_MESSAGE
    assert _audit("login.lockout") == 1
    assert _audit("login.success") == 0
    assert client.get("/").status_code == 302

    clock.shift(timedelta(minutes=15, seconds=1))
    again = sign_in(client, "wangfang")
    assert again.status_code == 302
    assert _audit("login.success") == 1
    assert _staff(worker.pk).locked_until is None


def _error_text(response: Any) -> str:
    match = re.search(r'<div class="error" role="alert">(.*?)</div>', response.content.decode())
    assert match, "the login page shows an error"
    return match.group(1)


# --- Logout, idle and absolute timeouts (A8, AUTH-5) ---------------------------------------------


def test_old_cookie_after_logout_is_worthless(client: Client, worker: Any) -> None:
    sign_in(client, "wangfang")
    cookie = client.cookies[SESSION_COOKIE].value
    assert client.get("/").status_code == 200

    response = client.post("/logout/")
    assert response.status_code == 302
    assert response.url == "/login/"
    assert _audit("logout", actor_id=worker.pk) == 1

    replay = Client()
    replay.cookies[SESSION_COOKIE] = cookie
    again = replay.get("/people/")
    assert again.status_code == 302
    assert again.url.startswith("/login/")


def test_idle_timeout_after_thirty_minutes(client: Client, worker: Any, clock: Any) -> None:
    sign_in(client, "wangfang")
    clock.shift(timedelta(minutes=29))
    assert client.get("/").status_code == 200, "activity within 30 minutes keeps the session"
    clock.shift(timedelta(minutes=29))
    assert client.get("/").status_code == 200
    clock.shift(timedelta(minutes=31))
    response = client.get("/people/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


def test_three_admins_idle_out_after_fifteen_minutes(client: Client, sysadmin: Any, login: Callable[[Any], Client],
                                                     clock: Any) -> None:
    login(sysadmin)
    assert client.get("/").status_code == 200
    clock.shift(timedelta(minutes=16))
    assert client.get("/staff/").status_code == 302


def test_absolute_lifetime_is_twelve_hours_even_when_active(client: Client, worker: Any, clock: Any) -> None:
    sign_in(client, "wangfang")
    for _ in range(36):  # every 20 minutes for 12 hours
        clock.shift(timedelta(minutes=20))
        assert client.get("/").status_code == 200
    clock.shift(timedelta(minutes=20))
    response = client.get("/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")
    assert "登录已超过12小时,请重新登录" in client.get(response.url).content.decode()
    assert _audit("logout", reason="会话超过12小时") == 1


def test_absolute_lifetime_from_the_sign_in_stamp(client: Client, worker: Any) -> None:
    sign_in(client, "wangfang")
    session = client.session
    session["mz_auth_at"] -= 12 * 3600 + 1
    session.save()
    response = client.get("/people/")
    assert response.status_code == 302
    assert response.url.startswith("/login/")


# --- Second factor for the 三员 (AUTH-6, A9) ---------------------------------------------------


def _token(device: Any) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _example_url(route: str, values: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "str", match.group(2)
        return values.get(name) or ("1" if converter == "int" else values["uid"])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def _routes(resolver: Any = None, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern), entry.namespace or namespace)
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), f"{namespace}:{entry.name}"


def test_admin_password_then_setup_then_otp_signs_in(client: Client, sysadmin: Any, make_person: Callable[..., Any],
                                                    clock: Any) -> None:
    person = make_person("王秀英", COMMUNITY_A)
    response = sign_in(client, "xitong")
    assert response.status_code == 302
    assert response.url == "/login/otp/setup/"
    assert _audit("login.success") == 0
    half_session = client.cookies[SESSION_COOKIE].value

    # Half signed in: every other URL (pages and the JSON API) sends back to login or refuses.
    values = {"uid": str(person.uid), "pk": str(sysadmin.pk), "code": COMMUNITY_A}
    for route, name in _routes():
        if name in PUBLIC:
            continue
        url = _example_url(route, values)
        for method in ("get", "post"):
            answer = getattr(client, method)(url)
            location = answer.get("Location", "")
            refused = answer.status_code in (401, 403) or (answer.status_code == 302 and location.startswith("/login/"))
            unsupported = url.startswith("/api/") and answer.status_code in (404, 405)  # nothing served
            assert refused or unsupported, (method, url, answer.status_code, location)
            assert "王秀英" not in answer.content.decode()
    assert client.cookies[SESSION_COOKIE].value == half_session

    setup = client.get("/login/otp/setup/")
    assert setup.status_code == 200
    assert "绑定动态口令" in setup.content.decode()
    device = TOTPDevice.objects.get(user=sysadmin, confirmed=False)
    confirmed = client.post("/login/otp/setup/", {"token": _token(device)})
    assert confirmed.status_code == 302
    assert confirmed.url == "/login/otp/"
    assert client.get("/").status_code == 302, "binding the device is not yet signing in"

    clock.shift(timedelta(seconds=30))
    device.refresh_from_db()
    signed_in = client.post("/login/otp/", {"token": _token(device)})
    assert signed_in.status_code == 302
    assert signed_in.url == "/"
    assert client.cookies[SESSION_COOKIE].value != half_session
    home = client.get("/")
    assert home.status_code == 200
    assert "系统管理" in home.content.decode()
    assert _audit("otp.enrol") == 1
    assert _audit("login.second_factor") == 1
    assert _audit("login.success", actor_id=sysadmin.pk) == 1


def test_admin_with_a_device_goes_to_the_otp_page(client: Client, sysadmin: Any) -> None:
    device = TOTPDevice.objects.create(user=sysadmin, name="TOTP", confirmed=True)
    response = sign_in(client, "xitong")
    assert response.status_code == 302
    assert response.url == "/login/otp/"
    assert client.get("/staff/").status_code == 302

    wrong = client.post("/login/otp/", {"token": f"{(int(_token(device)) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400
    assert "动态口令错误或已过期" in wrong.content.decode()
    assert client.get("/staff/").status_code == 302

    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()
    right = client.post("/login/otp/", {"token": _token(device)})
    assert right.status_code == 302
    staff_page = client.get("/staff/")
    assert staff_page.status_code == 200
    assert "工作人员" in staff_page.content.decode()


# --- Password age (AUTH-3) and policy (AUTH-2) -------------------------------------------------


def test_expired_password_forces_a_change_first(client: Client, worker: Any, make_person: Callable[..., Any]) -> None:
    person = make_person("王秀英", COMMUNITY_A)
    apps.get_model("accounts", "Staff").objects.filter(pk=worker.pk).update(
        password_changed_at=timezone.now() - timedelta(days=91))
    assert sign_in(client, "wangfang").status_code == 302

    values = {"uid": str(person.uid), "pk": str(worker.pk), "code": COMMUNITY_A}
    for route, name in _routes():
        if name in PUBLIC | {"web:password-change", "web:logout"} or route.startswith("api/"):
            continue  # (the JSON API answers 401/403 itself: test_api*)
        url = _example_url(route, values)
        for method in ("get", "post"):
            answer = getattr(client, method)(url)
            assert answer.status_code == 302, (method, url, answer.status_code)
            assert answer.url == "/password/", (method, url)
    page = client.get("/password/")
    assert "您的密码已超过90天未修改" in page.content.decode()

    changed = client.post("/password/", {"old_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD,
                                         "new_password2": NEW_PASSWORD})
    assert changed.status_code == 302
    home = client.get("/")
    assert home.status_code == 200
    assert "密码已修改" in home.content.decode()
    assert client.get(f"/people/{person.uid}/").status_code == 200


@pytest.mark.parametrize(("new", "message"), [
    ("short1A!", "密码至少 12 位"),
    ("alllowercaseletters", "密码须包含大写字母、小写字母、数字、符号中的至少三类"),
    ("Wangfang#2024abc", "密码不能包含用户名"),
])
def test_weak_new_password_is_refused_in_chinese(client: Client, worker: Any, login: Callable[[Any], Client],
                                                 new: str, message: str) -> None:
    login(worker)
    response = client.post("/password/", {"old_password": STRONG_PASSWORD, "new_password": new,
                                          "new_password2": new})
    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert new not in body, "password fields are never re-rendered"
    assert _staff(worker.pk).check_password(STRONG_PASSWORD)


def test_mismatched_confirmation_is_refused(client: Client, worker: Any, login: Callable[[Any], Client]) -> None:
    login(worker)
    response = client.post("/password/", {"old_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD,
                                          "new_password2": NEW_PASSWORD + "x"})
    assert response.status_code == 400
    assert "两次输入的新密码不一致" in response.content.decode()
    assert _staff(worker.pk).check_password(STRONG_PASSWORD)
