"""Accounts and roles (security AUTH-1, AC-3 三员分立, AC-6; attack A6)."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from minzheng.accounts.models import Staff, StaffRole
from minzheng.accounts.services import (
    LoginRefused,
    login_password,
    staff_create,
    staff_disable,
    staff_set_roles,
    staff_unlock,
)
from minzheng.core.exceptions import NotFound, PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent

STRONG = "Civil-Affairs#2024"
COMMUNITY_A = "330110005001"


def _roles(staff: Staff) -> list[str]:
    return sorted(StaffRole.objects.filter(staff_id=staff.pk).values_list("role", flat=True))


def _sessions_of(staff: Staff) -> int:
    return sum(
        str(s.get_decoded().get("_auth_user_id")) == str(staff.pk) for s in Session.objects.all()
    )


# --- Usernames (AUTH-1) ----------------------------------------------------------------------


@pytest.mark.parametrize("username", ["admin", "root", "test", "Admin", "ROOT"])
def test_shared_or_generic_usernames_are_refused(make_staff, username):
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username=username)

    assert caught.value.fields == {"username": "不能使用通用或共享账号名"}
    assert not Staff.objects.filter(username=username.lower()).exists()


@pytest.mark.parametrize("username", ["ab", "1abc", "zhang wei", "张伟", "a" * 65])
def test_malformed_usernames_are_refused(make_staff, username):
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username=username)

    assert set(caught.value.fields) == {"username"}


def test_usernames_are_unique_whatever_the_case(make_staff):
    # Given an account "liming"
    make_staff(username="liming")

    # When another is created as "LiMing"
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username="LiMing")

    # Then it is refused and only one account exists
    assert caught.value.fields == {"username": "用户名已存在"}
    assert Staff.objects.filter(username__iexact="liming").count() == 1


def test_usernames_are_stored_in_lower_case(make_staff):
    staff = make_staff(username="LiMing")

    assert Staff.objects.get(pk=staff.pk).username == "liming"


def test_unknown_division_is_refused_and_nothing_is_written(make_staff):
    with pytest.raises(NotFound):
        make_staff(username="liming", division="330110999999")

    assert not Staff.objects.filter(username="liming").exists()
    assert not AuditEvent.objects.filter(event_type="staff.create").exists()


def test_staff_phone_is_sealed(make_staff):
    staff = make_staff(username="liming", phone="13812345678")

    stored = Staff.objects.get(pk=staff.pk)
    assert stored.phone_masked == "138****5678"
    assert b"13812345678" not in bytes(stored.phone_sealed)


def test_system_admin_creates_accounts_without_roles(sysadmin):
    staff = staff_create(
        actor=sysadmin,
        username="liming",
        full_name="李明",
        division_code=COMMUNITY_A,
        password=STRONG,
    )

    assert _roles(staff) == []
    row = AuditEvent.objects.get(event_type="staff.create", object_id=str(staff.pk))
    assert row.actor_username == "xitong"


def test_system_admin_cannot_grant_roles_at_creation(sysadmin):
    with pytest.raises(PermissionDenied):
        staff_create(
            actor=sysadmin,
            username="liming",
            full_name="李明",
            division_code=COMMUNITY_A,
            password=STRONG,
            roles=["district_admin"],
        )

    assert not Staff.objects.filter(username="liming").exists()


def test_a_worker_cannot_create_accounts(worker):
    with pytest.raises(PermissionDenied):
        staff_create(
            actor=worker,
            username="liming",
            full_name="李明",
            division_code=COMMUNITY_A,
            password=STRONG,
        )

    assert not Staff.objects.filter(username="liming").exists()


@pytest.mark.parametrize(
    "roles", [["auditor", "district_admin"], ["system_admin", "security_admin"]]
)
def test_admin_roles_exclude_others_at_creation(make_staff, roles):
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username="liming", roles=roles)

    assert set(caught.value.fields) == {"roles"}
    assert "三员分立" in caught.value.fields["roles"]
    assert not Staff.objects.filter(username="liming").exists()


# --- Roles (AC-3) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles",
    [
        ["auditor", "district_admin"],
        ["system_admin", "security_admin"],
        ["security_admin", "community_worker"],
        ["auditor", "system_admin", "security_admin"],
    ],
)
def test_admin_roles_are_mutually_exclusive(secadmin, worker, roles):
    # When the security admin gives an admin role together with another role
    with pytest.raises(ValidationFailed) as caught:
        staff_set_roles(actor=secadmin, staff=worker, roles=roles)

    # Then the refusal names the roles field, and the worker's roles are untouched
    assert set(caught.value.fields) == {"roles"}
    assert "三员分立" in caught.value.fields["roles"]
    assert _roles(worker) == ["community_worker"]
    assert not AuditEvent.objects.filter(event_type="staff.roles_change").exists()


def test_unknown_role_is_refused(secadmin, worker):
    with pytest.raises(ValidationFailed) as caught:
        staff_set_roles(actor=secadmin, staff=worker, roles=["superuser"])

    assert set(caught.value.fields) == {"roles"}
    assert _roles(worker) == ["community_worker"]


def test_nobody_changes_their_own_roles(secadmin):
    # When the security admin tries to add a role to themself
    with pytest.raises(PermissionDenied) as caught:
        staff_set_roles(actor=secadmin, staff=secadmin, roles=["security_admin", "district_admin"])

    # Then it is refused, nothing changed, and the attempt is on record
    assert caught.value.message == "不能修改自己的角色"
    assert _roles(secadmin) == ["security_admin"]
    denied = AuditEvent.objects.get(event_type="staff.roles_change")
    assert denied.result == "denied"
    assert denied.actor_username == "anquan"
    assert denied.object_id == str(secadmin.pk)


def test_system_admin_cannot_set_roles(sysadmin, worker):
    # When the system admin grants themself the security admin role, or changes a worker's roles
    with pytest.raises(PermissionDenied):
        staff_set_roles(actor=sysadmin, staff=sysadmin, roles=["security_admin"])
    with pytest.raises(PermissionDenied):
        staff_set_roles(actor=sysadmin, staff=worker, roles=["district_admin"])

    # Then nothing changed, and both attempts are on record (A6)
    assert _roles(sysadmin) == ["system_admin"]
    assert _roles(worker) == ["community_worker"]
    denied = AuditEvent.objects.filter(event_type="staff.roles_change", result="denied").order_by(
        "id"
    )
    assert [(e.actor_username, e.object_id) for e in denied] == [
        ("xitong", str(sysadmin.pk)),
        ("xitong", str(worker.pk)),
    ]


@pytest.mark.parametrize("role", ["auditor", "district_admin", "community_worker"])
def test_other_roles_cannot_set_roles(make_staff, worker, role):
    other = make_staff(roles=[role], division="330110000000")

    with pytest.raises(PermissionDenied):
        staff_set_roles(actor=other, staff=worker, roles=["district_admin"])

    assert _roles(worker) == ["community_worker"]


def test_role_change_is_audited_with_before_and_after(secadmin, worker):
    staff_set_roles(actor=secadmin, staff=worker, roles=["township_staff", "caseworker"])

    assert _roles(worker) == ["caseworker", "township_staff"]
    assert worker.role_codes == ("caseworker", "township_staff")
    row = AuditEvent.objects.get(event_type="staff.roles_change")
    assert row.result == "success"
    assert row.actor_username == "anquan"
    assert row.object_id == str(worker.pk)
    assert row.extra == {"before": ["community_worker"], "after": ["caseworker", "township_staff"]}
    granted = StaffRole.objects.get(staff=worker, role="township_staff")
    assert granted.granted_by_id == secadmin.pk


def test_role_change_ends_the_members_sessions(secadmin, worker, login, client):
    login(worker)
    assert _sessions_of(worker) == 1

    staff_set_roles(actor=secadmin, staff=worker, roles=["township_staff"])

    assert _sessions_of(worker) == 0
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- Disabling and unlocking (AC-6, A3) ----------------------------------------------------------


def test_disabling_ends_every_session_of_that_member(sysadmin, worker, make_staff, login, client):
    # Given the worker signed in, and a colleague signed in elsewhere
    colleague = make_staff(username="colleague")
    login(worker)
    assert client.get("/").status_code == 200
    other_client = Client()
    other_client.force_login(colleague)

    # When the system admin disables the worker
    staff_disable(actor=sysadmin, staff=worker, reason="调离岗位")

    # Then the worker's session is gone and the next request goes to the login page
    assert _sessions_of(worker) == 0
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    # And the colleague's session is untouched
    assert _sessions_of(colleague) == 1
    # And the disabling is on record with its reason
    row = AuditEvent.objects.get(event_type="staff.disable")
    assert (row.actor_username, row.reason, row.extra) == (
        "xitong",
        "调离岗位",
        {"sessions_ended": 1},
    )
    assert Staff.objects.get(pk=worker.pk).is_active is False


def test_disabling_needs_a_reason(sysadmin, worker):
    with pytest.raises(ValidationFailed) as caught:
        staff_disable(actor=sysadmin, staff=worker, reason="  ")

    assert set(caught.value.fields) == {"reason"}
    assert Staff.objects.get(pk=worker.pk).is_active is True


def test_security_admin_cannot_disable_accounts(secadmin, worker):
    with pytest.raises(PermissionDenied):
        staff_disable(actor=secadmin, staff=worker, reason="调离")

    assert Staff.objects.get(pk=worker.pk).is_active is True


def test_security_admin_unlocks_a_locked_account(secadmin, worker):
    for _ in range(5):
        with pytest.raises(LoginRefused):
            login_password(username="wangfang", password="Not-The-Password#1")

    staff_unlock(actor=secadmin, staff=Staff.objects.get(pk=worker.pk))

    assert login_password(username="wangfang", password=STRONG) == worker
    assert (
        AuditEvent.objects.filter(event_type="staff.unlock", actor_username="anquan").count() == 1
    )
