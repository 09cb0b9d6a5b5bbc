"""The audit log (security AU-1..AU-5, attacks A6/A7/A10): chained, append-only, redacted, private."""

from __future__ import annotations

import threading
from io import StringIO
from itertools import pairwise

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from minzheng.core import context
from minzheng.core.domain import GENESIS_MAC, chain_for, chain_mac
from minzheng.core.exceptions import PermissionDenied
from minzheng.core.models import AuditChainHead, AuditEvent
from minzheng.core.selectors import audit_verify
from minzheng.core.services import audit_record, audit_search

FULL_ID = "11010519491231002X"
FULL_MOBILE = "13812345678"


def _write(n: int) -> list[AuditEvent]:
    return [
        audit_record(actor=None, event_type="test.event", reason=f"第{i}条", extra={"i": i})
        for i in range(n)
    ]


def _raw_rows() -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute("SELECT * FROM core_auditevent ORDER BY id")
        return cur.fetchall()


def _as_text(value: object) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    return str(value)


def test_each_row_links_to_the_previous_one(db):
    # Given three audit rows
    rows = _write(3)

    # Then each row's prev_mac is the MAC of the row before it, the first links to the genesis MAC
    stored = list(AuditEvent.objects.order_by("id"))
    assert [e.id for e in stored] == [r.id for r in rows]
    assert bytes(stored[0].prev_mac) == GENESIS_MAC
    for before, after in pairwise(stored):
        assert bytes(after.prev_mac) == bytes(before.mac)
    # And every MAC recomputes from the row as read back from the database
    for event in stored:
        assert bytes(event.mac) == chain_mac(bytes(event.prev_mac), event)
    head = AuditChainHead.objects.get(pk=1)
    assert head.last_event_id == stored[-1].id
    assert bytes(head.last_mac) == bytes(stored[-1].mac)


def test_intact_chain_reports_nothing(db):
    _write(5)

    assert audit_verify() == []


def test_intact_chain_command_says_so(db):
    _write(2)
    out = StringIO()

    call_command("audit_verify", stdout=out)

    assert "审计链完整" in out.getvalue()


def test_edited_row_is_named_as_altered(db, tamper):
    # Given an intact chain of five rows
    rows = _write(5)
    victim = rows[2]

    # When a database superuser rewrites one row's reason behind the application's back
    tamper("UPDATE core_auditevent SET reason = %s WHERE id = %s", ("无事发生", victim.id))

    # Then the chain check names exactly that row, as altered
    problems = audit_verify()
    assert [(p.event_id, p.kind) for p in problems] == [(victim.id, "altered")]


def test_deleted_row_breaks_the_link_of_the_next(db, tamper):
    rows = _write(5)

    tamper("DELETE FROM core_auditevent WHERE id = %s", (rows[2].id,))

    problems = audit_verify()
    assert [(p.event_id, p.kind) for p in problems] == [(rows[3].id, "broken_link")]


def test_cut_tail_is_reported_against_the_head(db, tamper):
    rows = _write(3)

    tamper("DELETE FROM core_auditevent WHERE id = %s", (rows[-1].id,))

    problems = audit_verify()
    assert [(p.event_id, p.kind) for p in problems] == [(rows[-2].id, "head")]


def test_command_fails_and_prints_the_row(db, tamper):
    # Given a tampered row
    rows = _write(3)
    tamper("UPDATE core_auditevent SET reason = %s WHERE id = %s", ("改过", rows[1].id))
    err = StringIO()

    # When the nightly check runs, it fails (non-zero exit) and names the row
    with pytest.raises(CommandError, match="审计链校验失败"):
        call_command("audit_verify", stderr=err)
    assert f"#{rows[1].id}" in err.getvalue()
    assert "altered" in err.getvalue()


def test_raw_update_is_refused_by_the_trigger(db):
    event = audit_record(actor=None, event_type="test.event", reason="原始")

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE core_auditevent SET reason = %s WHERE id = %s", ("改过", event.id))

    assert AuditEvent.objects.get(pk=event.id).reason == "原始"


def test_raw_delete_is_refused_by_the_trigger(db):
    event = audit_record(actor=None, event_type="test.event")

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM core_auditevent WHERE id = %s", (event.id,))

    assert AuditEvent.objects.filter(pk=event.id).exists()


def test_orm_update_is_refused_too(db):
    event = audit_record(actor=None, event_type="test.event", reason="原始")

    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.id).update(reason="改过")

    assert AuditEvent.objects.get(pk=event.id).reason == "原始"


@pytest.mark.postgres
def test_truncate_is_refused_on_postgres(db, require_postgres):
    audit_record(actor=None, event_type="test.event")

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("TRUNCATE core_auditevent")

    assert AuditEvent.objects.count() == 1


def test_rows_never_hold_a_full_id_or_mobile(db):
    # Given a caller that passes full numbers everywhere it can
    audit_record(
        actor=None,
        username=FULL_MOBILE,
        event_type="test.event",
        object_type="person",
        object_id=FULL_ID,
        reason=f"核对身份证 {FULL_ID.lower()} 及电话 {FULL_MOBILE}",
        extra={
            "id": FULL_ID,
            "phones": [FULL_MOBILE, f"+86{FULL_MOBILE}"],
            "nested": {"note": f"电话:{FULL_MOBILE}"},
            FULL_ID: "as a key",
        },
    )

    # Then no column of the stored row contains either number
    (row,) = _raw_rows()
    text = " ".join(_as_text(v) for v in row)
    assert FULL_ID not in text.upper()
    assert FULL_MOBILE not in text
    assert "[已屏蔽]" in text
    # And the chain still verifies over the redacted row
    assert audit_verify() == []


def test_redaction_keeps_short_numbers(db):
    event = audit_record(
        actor=None, event_type="test.event", reason="尾号5678,共 3 条", extra={"rows": 12}
    )

    assert event.reason == "尾号5678,共 3 条"
    assert event.extra == {"rows": 12}


def test_redaction_leaves_uuids_and_keys_whole(db):
    # a UUID whose last group holds a phone-shaped run, and a hex payment key, are references, not numbers
    roll = "8f5ab126-7b06-401c-805d-13081365929e"
    key = "a13812345678b:2024-05"
    event = audit_record(actor=None, event_type="test.event", object_id=roll,
                         reason=f"电话13812345678,名册 {roll}", extra={"roll": roll, "key": key})

    assert event.object_id == roll
    assert event.extra == {"roll": roll, "key": key}
    assert event.reason == f"电话[已屏蔽],名册 {roll}"


def test_audit_row_belongs_to_the_callers_transaction(db):
    # Given an action that audits and then fails
    before = AuditEvent.objects.count()

    def action() -> None:
        with transaction.atomic():
            audit_record(actor=None, event_type="test.event")
            raise RuntimeError("the action failed after auditing")

    with pytest.raises(RuntimeError):
        action()

    # Then the audit row went with it, and the chain is still whole
    assert AuditEvent.objects.count() == before
    assert audit_verify() == []
    # And the next row continues the chain where it really ends
    audit_record(actor=None, event_type="test.event")
    assert audit_verify() == []


def test_row_records_the_request_context(db):
    token = context.bind(context.RequestContext(request_id="req123", ip="10.1.2.3", channel="web"))
    try:
        event = audit_record(actor=None, event_type="test.event")
    finally:
        context.reset(token)

    stored = AuditEvent.objects.get(pk=event.id)
    assert (stored.ip, stored.request_id, stored.channel) == ("10.1.2.3", "req123", "web")
    assert audit_verify() == []


@pytest.mark.parametrize(
    "role", ["community_worker", "district_admin", "system_admin", "security_admin"]
)
def test_audit_search_is_for_auditors_only(make_staff, role):
    staff = make_staff(roles=[role], division="330110000000")
    before = AuditEvent.objects.count()

    with pytest.raises(PermissionDenied):
        audit_search(actor=staff)

    assert not AuditEvent.objects.filter(event_type="audit.read").exists()
    assert AuditEvent.objects.count() == before


def test_audit_search_is_itself_audited(make_staff):
    # Given an auditor and some history
    auditor = make_staff(roles=["auditor"], division="330110000000", username="shenji")
    audit_record(actor=None, event_type="test.event")

    # When the auditor searches
    results = list(audit_search(actor=auditor, event_type="test.event"))

    # Then the results come back and the search left its own row
    assert [e.event_type for e in results] == ["test.event"]
    read = AuditEvent.objects.get(event_type="audit.read")
    assert read.actor_username == "shenji"
    assert read.actor_roles == "auditor"
    assert read.extra == {"filters": {"event_type": "test.event"}}


@pytest.mark.parametrize(
    ("raw_ip", "stored_ip"),
    [
        ("10.1.2.3", "10.1.2.3"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("not-an-ip", None),
        ("10.1.2.3, 10.9.9.9", None),
    ],
)
def test_any_source_address_is_recorded_without_breaking_the_chain(db, raw_ip, stored_ip):
    # X-Forwarded-For is whatever the client sent: an odd address must neither fail the action
    # nor make the nightly check report a row that nobody touched.
    token = context.bind(context.RequestContext(request_id="req", ip=raw_ip, channel="web"))
    try:
        event = audit_record(actor=None, event_type="test.event")
    finally:
        context.reset(token)

    assert AuditEvent.objects.get(pk=event.id).ip == stored_ip
    assert audit_verify() == []


def _write_as(request_id: str, n: int = 1) -> list[AuditEvent]:
    token = context.bind(context.RequestContext(request_id=request_id, ip=None, channel="api"))
    try:
        return _write(n)
    finally:
        context.reset(token)


def _requests_on_distinct_chains(n: int) -> list[str]:
    """Request ids that the configured chains place on ``n`` different chains."""
    found: dict[int, str] = {}
    i = 0
    while len(found) < n:
        found.setdefault(chain_for(f"req{i}", settings.MINZHENG["AUDIT_CHAINS"]), f"req{i}")
        i += 1
    return list(found.values())


def test_each_request_writes_one_chain_of_its_own(db):
    # Given two requests that each audit three actions, interleaved
    first, second = _requests_on_distinct_chains(2)
    rows = [row for _ in range(3) for row in (*_write_as(first), *_write_as(second))]

    # Then one request's rows share a chain, the two requests' chains differ
    by_request = {r.request_id: {e.chain for e in rows if e.request_id == r.request_id} for r in rows}
    assert len(by_request[first]) == len(by_request[second]) == 1
    assert by_request[first] != by_request[second]
    # And each chain links its own rows in order, from the genesis MAC, up to its head
    for request_id in (first, second):
        stored = list(AuditEvent.objects.filter(request_id=request_id).order_by("id"))
        assert bytes(stored[0].prev_mac) == GENESIS_MAC
        for before, after in pairwise(stored):
            assert bytes(after.prev_mac) == bytes(before.mac)
        head = AuditChainHead.objects.get(pk=stored[0].chain)
        assert (head.last_event_id, bytes(head.last_mac)) == (stored[-1].id, bytes(stored[-1].mac))
    assert audit_verify() == []


def test_deleted_row_is_found_in_its_own_chain(db, tamper):
    # Given rows of three requests on three chains
    first, second, third = _requests_on_distinct_chains(3)
    rows = {rid: _write_as(rid, 3) for rid in (first, second, third)}

    # When a superuser deletes the middle row of the second request
    tamper("DELETE FROM core_auditevent WHERE id = %s", (rows[second][1].id,))

    # Then the check names the row that followed it, and nothing in the other chains
    problems = audit_verify()
    assert [(p.event_id, p.kind) for p in problems] == [(rows[second][2].id, "broken_link")]


def test_row_moved_to_another_chain_is_found(db, tamper):
    # Given rows of two requests on two chains
    first, second = _requests_on_distinct_chains(2)
    a = _write_as(first, 3)
    b = _write_as(second, 3)

    # When a superuser moves one row of the first chain into the second
    tamper("UPDATE core_auditevent SET chain = %s WHERE id = %s", (b[0].chain, a[1].id))

    # Then the row after its old place no longer follows its predecessor, and in the other chain
    # neither the moved row nor the row now after it fits
    problems = [(p.event_id, p.kind) for p in audit_verify()]
    assert problems == [(a[1].id, "broken_link"), (a[2].id, "broken_link"), (b[0].id, "broken_link")]


def test_cut_tail_of_one_chain_is_reported_against_its_head(db, tamper):
    first, second = _requests_on_distinct_chains(2)
    a = _write_as(first, 2)
    _write_as(second, 2)

    tamper("DELETE FROM core_auditevent WHERE id = %s", (a[-1].id,))

    problems = audit_verify()
    assert [(p.event_id, p.kind) for p in problems] == [(a[0].id, "head")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_requests_keep_every_chain_whole_on_postgres(require_postgres):
    # Given 12 requests auditing at the same moment, 10 rows each, in their own transactions
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def request(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            for _ in range(10):
                with transaction.atomic():
                    _write_as(f"parallel{i}", 1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    # Then every row was written once, with its own id, and every chain verifies
    assert errors == []
    assert AuditEvent.objects.filter(request_id__startswith="parallel").count() == 120
    assert len(set(AuditEvent.objects.values_list("chain", flat=True))) > 1
    assert audit_verify() == []
