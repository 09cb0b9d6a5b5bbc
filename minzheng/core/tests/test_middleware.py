"""Where a request came from, as the audit log and the login throttle record it."""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from minzheng.core.middleware import client_ip


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("10.0.0.5", "", False, "10.0.0.5"),
        (
            "10.0.0.5",
            "203.0.113.9",
            False,
            "10.0.0.5",
        ),  # the header is ignored unless a proxy is trusted
        ("10.0.0.5", "203.0.113.9, 10.0.0.1", True, "203.0.113.9"),
        ("10.0.0.5", "<script>", True, None),  # a forged header is no address
        ("10.0.0.5", "2001:DB8::1", True, "2001:db8::1"),
        ("", "", False, None),
    ],
)
def test_client_ip(remote, forwarded, trusted, expected):
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().get("/", **meta)

    with override_settings(MINZHENG_TRUST_X_FORWARDED_FOR=trusted):
        assert client_ip(request) == expected
