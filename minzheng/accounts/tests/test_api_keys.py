"""Machine credentials: the secret is shown once and stored only as an SM3 digest."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from minzheng.accounts.models import ApiKey
from minzheng.accounts.selectors import api_key_for
from minzheng.accounts.services import api_key_create, api_key_revoke
from minzheng.core import crypto
from minzheng.core.exceptions import PermissionDenied, ValidationFailed
from minzheng.core.models import AuditEvent

COMMUNITY_A = "330110005001"


def _raw(table: str, pk: int) -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])  # noqa: S608 - fixed table names
        row = cur.fetchone()
    return " ".join(
        bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row
    )


def test_only_a_digest_of_the_secret_is_stored(sysadmin):
    # When a key is issued
    key, raw = api_key_create(
        actor=sysadmin,
        name="顾家桥助餐点终端",
        purpose="canteen_terminal",
        division_code=COMMUNITY_A,
    )
    prefix, secret = raw.split(".", 1)

    # Then the database holds the prefix and an SM3 digest, never the secret
    assert prefix == key.prefix
    assert len(secret) >= 32
    stored = ApiKey.objects.get(pk=key.pk)
    assert bytes(stored.secret_digest) == crypto.sm3(secret.encode())
    assert secret not in _raw("accounts_apikey", key.pk)
    # And the audit row of the issue does not hold it either
    audit = AuditEvent.objects.get(event_type="apikey.create")
    assert secret not in _raw("core_auditevent", audit.pk)


def test_the_right_secret_finds_the_key(sysadmin):
    key, raw = api_key_create(
        actor=sysadmin, name="网关", purpose="sensor_gateway", division_code=COMMUNITY_A
    )

    found = api_key_for(raw=raw)

    assert found == key
    assert found.username == f"apikey:{key.prefix}"
    assert found.scope_path.endswith(f"{COMMUNITY_A}/")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),
        lambda raw: raw.split(".")[0] + ".",
        lambda raw: raw.split(".")[0],
        lambda raw: "ffffffffffff." + raw.split(".")[1],
        lambda raw: "",
    ],
)
def test_a_wrong_secret_finds_nothing(sysadmin, mangle):
    _key, raw = api_key_create(
        actor=sysadmin, name="网关", purpose="sensor_gateway", division_code=COMMUNITY_A
    )

    assert api_key_for(raw=mangle(raw)) is None


def test_a_revoked_key_finds_nothing(sysadmin):
    key, raw = api_key_create(
        actor=sysadmin, name="网关", purpose="sensor_gateway", division_code=COMMUNITY_A
    )

    api_key_revoke(actor=sysadmin, key=key)

    assert api_key_for(raw=raw) is None
    assert not key.has_permission("people.view_person")
    assert AuditEvent.objects.filter(event_type="apikey.revoke", object_id=str(key.pk)).count() == 1


def test_issuing_needs_the_account_manager(secadmin, worker):
    for actor in (secadmin, worker):
        with pytest.raises(PermissionDenied):
            api_key_create(
                actor=actor, name="网关", purpose="sensor_gateway", division_code=COMMUNITY_A
            )

    assert not ApiKey.objects.exists()


def test_bad_key_requests_name_the_fields(sysadmin):
    with pytest.raises(ValidationFailed) as caught:
        api_key_create(actor=sysadmin, name=" ", purpose="mind_reader", division_code=COMMUNITY_A)

    assert set(caught.value.fields) == {"name", "purpose"}
    assert not ApiKey.objects.exists()


# --- the per-process cache of live keys (api_key_for) -----------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """The monotonic clock the key cache reads, moved by hand."""
    import minzheng.accounts.selectors as selectors

    now = {"t": 1000.0}
    monkeypatch.setattr(selectors.time, "monotonic", lambda: now["t"])
    selectors.api_key_forget()
    yield now
    selectors.api_key_forget()


def test_a_key_revoked_elsewhere_is_refused_once_the_cache_ttl_has_passed(sysadmin, clock):
    """Another process (a web worker, a script) revokes the key: this process keeps answering from
    its cache for at most API_KEY_CACHE_SECONDS, then refuses it."""
    from minzheng.accounts.selectors import API_KEY_CACHE_SECONDS

    key, raw = api_key_create(actor=sysadmin, name="终端", purpose="canteen_terminal", division_code=COMMUNITY_A)
    assert api_key_for(raw=raw).pk == key.pk
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())  # not through this process

    clock["t"] += API_KEY_CACHE_SECONDS - 0.5
    assert api_key_for(raw=raw) is not None  # still within the TTL
    clock["t"] += 1.0
    assert api_key_for(raw=raw) is None
    assert api_key_for(raw=raw) is None  # and stays refused
    assert API_KEY_CACHE_SECONDS <= 5


def test_a_key_revoked_in_this_process_is_refused_at_once(sysadmin, clock):
    key, raw = api_key_create(actor=sysadmin, name="终端", purpose="canteen_terminal", division_code=COMMUNITY_A)
    assert api_key_for(raw=raw) is not None
    api_key_revoke(actor=sysadmin, key=ApiKey.objects.get(pk=key.pk))
    assert api_key_for(raw=raw) is None


def test_the_cache_answers_without_a_query_and_still_checks_the_secret(sysadmin, clock):
    from django.test.utils import CaptureQueriesContext

    _key, raw = api_key_create(actor=sysadmin, name="终端", purpose="canteen_terminal", division_code=COMMUNITY_A)
    wrong = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    assert api_key_for(raw=raw) is not None
    with CaptureQueriesContext(connection) as ctx:
        assert api_key_for(raw=raw) is not None
        assert api_key_for(raw=wrong) is None
    assert ctx.captured_queries == []


def test_last_used_is_written_once_a_minute_with_a_cached_key(sysadmin, clock):
    from django.test.utils import CaptureQueriesContext

    from minzheng.accounts.services import api_key_touch

    _key, raw = api_key_create(actor=sysadmin, name="终端", purpose="canteen_terminal", division_code=COMMUNITY_A)
    key = api_key_for(raw=raw)
    api_key_touch(key=key)
    with CaptureQueriesContext(connection) as ctx:
        for _ in range(5):
            api_key_touch(key=api_key_for(raw=raw))
    assert ctx.captured_queries == []
