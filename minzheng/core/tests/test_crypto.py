"""SM4-GCM sealing, HMAC-SM3 blind indexes and key configuration (security §3.4, F10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from minzheng.core import crypto

ROOT = Path(__file__).resolve().parents[3]
OTHER_KEYS = {
    "enc": "ffeeddccbbaa99887766554433221100",
    "idx": "11" * 32,
    "audit": "22" * 32,
    "token": "33" * 32,
}


@pytest.fixture
def restore_keys():
    yield
    crypto.configure(settings.MINZHENG_KEYS)


def test_seal_round_trip():
    blob = crypto.seal("330110195001011234", "person|id_number|abc")

    assert crypto.unseal(blob, "person|id_number|abc") == "330110195001011234"
    assert b"330110195001011234" not in blob


def test_same_value_seals_differently_each_time():
    assert crypto.seal("13800001111", "x") != crypto.seal("13800001111", "x")


def test_unseal_with_other_aad_fails():
    # A ciphertext copied into another row or column no longer opens
    blob = crypto.seal("13800001111", "person|phone:0|row-1")

    with pytest.raises(crypto.SealError):
        crypto.unseal(blob, "person|phone:0|row-2")


def test_tampered_ciphertext_fails():
    blob = bytearray(crypto.seal("浙江省杭州市余杭区五常街道", "a"))
    blob[20] ^= 0x01

    with pytest.raises(crypto.SealError):
        crypto.unseal(bytes(blob), "a")


def test_short_or_unknown_version_blob_fails():
    with pytest.raises(crypto.SealError):
        crypto.unseal(b"\x01short", "a")
    blob = bytearray(crypto.seal("x", "a"))
    blob[0] = 9
    with pytest.raises(crypto.SealError):
        crypto.unseal(bytes(blob), "a")


def test_blind_index_is_deterministic_and_domain_separated():
    a = crypto.blind_index("id", "11010519491231002X")

    assert a == crypto.blind_index("id", "11010519491231002X")
    assert len(a) == 32
    assert a != crypto.blind_index("phone", "11010519491231002X")
    assert a != crypto.sm3(b"id:11010519491231002X")  # keyed, not a plain hash


def test_a_mac_under_a_prepared_key_is_the_plain_mac():
    mac = crypto.hmac_sm3_under("audit", b"context\n")
    assert mac(b"one") == crypto.hmac_sm3("audit", b"context\none")
    assert mac(b"two") == crypto.hmac_sm3("audit", b"context\ntwo")  # the prepared state is reused, not consumed
    assert mac(b"one") != crypto.hmac_sm3_under("idx", b"context\n")(b"one")


def test_blind_index_depends_on_the_key(restore_keys):
    ours = crypto.blind_index("id", "11010519491231002X")

    crypto.configure(OTHER_KEYS)

    assert crypto.blind_index("id", "11010519491231002X") != ours


def test_sealed_value_does_not_open_under_another_key(restore_keys):
    blob = crypto.seal("13800001111", "a")

    crypto.configure(OTHER_KEYS)

    with pytest.raises(crypto.SealError):
        crypto.unseal(blob, "a")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"enc": ""}, "MINZHENG_ENC_KEY is not set"),
        ({"idx": ""}, "MINZHENG_IDX_KEY is not set"),
        ({"audit": None}, "MINZHENG_AUDIT_KEY is not set"),
        ({"token": ""}, "MINZHENG_TOKEN_KEY is not set"),
        ({"enc": "00112233"}, "MINZHENG_ENC_KEY must be 32 hex"),
        ({"idx": "ab" * 16}, "MINZHENG_IDX_KEY must be 64 hex"),
        ({"audit": "zz" * 32}, "MINZHENG_AUDIT_KEY is not hex"),
        ({"audit": OTHER_KEYS["idx"]}, "must differ"),
        ({"token": OTHER_KEYS["audit"]}, "must differ"),
    ],
)
def test_configure_refuses_bad_keys_and_keeps_the_old_ones(change, message, restore_keys):
    keys = {**OTHER_KEYS, **change}
    keys = {k: v for k, v in keys.items() if v is not None}
    before = crypto.blind_index("id", "x")

    with pytest.raises(crypto.KeyConfigError, match=message):
        crypto.configure(keys)

    # Nothing was half-applied: the running keys are untouched
    assert crypto.blind_index("id", "x") == before


def test_process_refuses_to_start_without_keys(tmp_path):
    # Given an environment with no keys (production settings read only the environment)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "MINZHENG_SECRET_KEY": "x" * 50,
        "MINZHENG_ENC_KEY": "",
        "MINZHENG_IDX_KEY": "",
        "MINZHENG_AUDIT_KEY": "",
        "MINZHENG_TOKEN_KEY": "",
        "MINZHENG_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    # When the process starts
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Then it exits non-zero, naming the missing key
    assert proc.returncode != 0
    assert "MINZHENG_ENC_KEY is not set" in proc.stderr
