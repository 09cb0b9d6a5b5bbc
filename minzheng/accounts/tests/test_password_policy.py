"""Password policy (security AUTH-2): ≥12 characters of ≥3 classes, not common, no personal data."""

from __future__ import annotations

import pytest

from minzheng.accounts.models import Staff
from minzheng.accounts.services import password_change
from minzheng.core.exceptions import ValidationFailed
from minzheng.core.models import AuditEvent

STRONG = "Civil-Affairs#2024"


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Ab1!short", "密码至少 12 位"),
        ("alllowercaseletters", "至少三类"),
        ("ALLUPPER12345678", "至少三类"),
        ("Password1234!", "密码过于常见"),
        ("Qwerty123456!", "密码过于常见"),
        ("Zhangwei-2024!", "密码不能包含用户名"),
        ("Ab#13812345678", "密码不能包含手机号"),
    ],
)
def test_weak_password_is_refused_naming_the_field(make_staff, password, message):
    # When an account is created with a weak password
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username="zhangwei", password=password, phone="13812345678")

    # Then the refusal names the password field, in Chinese, and no account exists
    assert set(caught.value.fields) == {"password"}
    assert message in caught.value.fields["password"]
    assert caught.value.message == caught.value.fields["password"]
    assert not Staff.objects.filter(username="zhangwei").exists()
    assert not AuditEvent.objects.filter(event_type="staff.create").exists()


def test_password_may_not_hide_the_phone_however_it_was_typed(make_staff):
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username="zhangwei", password="Ab#13812345678", phone="+86 138 1234 5678")

    assert "密码不能包含手机号" in caught.value.fields["password"]
    assert not Staff.objects.filter(username="zhangwei").exists()


def test_every_problem_is_listed(make_staff):
    with pytest.raises(ValidationFailed) as caught:
        make_staff(username="zhangwei", password="zhangwei")

    message = caught.value.fields["password"]
    assert "密码至少 12 位" in message
    assert "至少三类" in message
    assert "密码不能包含用户名" in message


def test_strong_password_is_accepted(make_staff):
    staff = make_staff(username="zhangwei", password=STRONG, phone="13812345678")

    stored = Staff.objects.get(pk=staff.pk)
    assert stored.check_password(STRONG)
    assert stored.password != STRONG
    assert stored.password_changed_at is not None


def test_password_change_applies_the_same_policy(make_staff):
    staff = make_staff(username="zhangwei", phone="13812345678")

    with pytest.raises(ValidationFailed) as caught:
        password_change(actor=staff, old_password=STRONG, new_password="Tel-13812345678")

    assert set(caught.value.fields) == {"new_password"}
    assert "密码不能包含手机号" in caught.value.fields["new_password"]
    assert Staff.objects.get(pk=staff.pk).check_password(STRONG)


def test_password_change_needs_the_old_password(make_staff):
    staff = make_staff(username="zhangwei")

    with pytest.raises(ValidationFailed) as caught:
        password_change(
            actor=staff, old_password="Wrong-Password#1", new_password="Another-Strong#2025"
        )

    assert set(caught.value.fields) == {"old_password"}
    assert Staff.objects.get(pk=staff.pk).check_password(STRONG)
    assert AuditEvent.objects.filter(event_type="password.change", result="failure").count() == 1


def test_password_change_succeeds_and_is_audited(make_staff):
    staff = make_staff(username="zhangwei")

    password_change(actor=staff, old_password=STRONG, new_password="Another-Strong#2025")

    assert Staff.objects.get(pk=staff.pk).check_password("Another-Strong#2025")
    assert AuditEvent.objects.filter(event_type="password.change", result="success").count() == 1
