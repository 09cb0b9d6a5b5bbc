from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from minzheng.accounts.models import Staff


class StaffBackend(BaseBackend):
    """Loads the signed-in member of staff for each request. Passwords are checked by
    ``services.login_password`` (lockout, throttle and audit live there), never here."""

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> Staff | None:
        try:
            staff = Staff.objects.select_related("division").get(pk=user_id)
        except Staff.DoesNotExist:
            return None
        return staff if staff.is_active else None
