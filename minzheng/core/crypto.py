"""SM4-GCM sealing, HMAC-SM3 blind indexes and MACs (GB/T 39786 level 3; security §3.4).

Pure code with no Django: keys are handed in once by ``configure`` (CoreConfig.ready) from the
environment. Sealed values are ``key_version(1) ‖ nonce(12) ‖ ciphertext ‖ tag(16)`` and bind
associated data (the table, the column and the row's public id) so that a ciphertext moved to
another row or column no longer opens. Everything sits behind these few functions so that a
certified cipher machine can replace the software keys later.
"""

from __future__ import annotations

import hmac as std_hmac
import os
from collections.abc import Callable, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_VERSION = 1
_NONCE = 12
_TAG = 16


class KeyConfigError(Exception):
    pass


class SealError(Exception):
    pass


_keys: dict[str, bytes] = {}
_LENGTHS = {"enc": 16, "idx": 32, "audit": 32, "token": 32}


def configure(keys: Mapping[str, str]) -> None:
    parsed: dict[str, bytes] = {}
    for name, length in _LENGTHS.items():
        raw = keys.get(name) or ""
        if not raw:
            raise KeyConfigError(
                f"MINZHENG_{name.upper()}_KEY is not set: refusing to start without it "
                "(run `make keys` on a development machine)"
            )
        try:
            key = bytes.fromhex(raw)
        except ValueError as exc:
            raise KeyConfigError(f"MINZHENG_{name.upper()}_KEY is not hex") from exc
        if len(key) != length:
            raise KeyConfigError(f"MINZHENG_{name.upper()}_KEY must be {length * 2} hex characters")
        parsed[name] = key
    if len({parsed["idx"], parsed["audit"], parsed["token"]}) != 3:
        raise KeyConfigError("the index, audit and token keys must differ")
    _keys.clear()
    _keys.update(parsed)


def _key(name: str) -> bytes:
    try:
        return _keys[name]
    except KeyError:
        raise KeyConfigError("crypto.configure() has not run") from None


def seal(plaintext: str, aad: str) -> bytes:
    nonce = os.urandom(_NONCE)
    enc = Cipher(algorithms.SM4(_key("enc")), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(f"{aad}|{KEY_VERSION}".encode())
    body = enc.update(plaintext.encode()) + enc.finalize()
    return bytes([KEY_VERSION]) + nonce + body + enc.tag


def unseal(blob: bytes, aad: str) -> str:
    blob = bytes(blob)
    if len(blob) < 1 + _NONCE + _TAG:
        raise SealError("sealed value too short")
    version, nonce, body, tag = blob[0], blob[1 : 1 + _NONCE], blob[1 + _NONCE : -_TAG], blob[-_TAG:]
    if version != KEY_VERSION:
        raise SealError(f"unknown key version {version}")
    dec = Cipher(algorithms.SM4(_key("enc")), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(f"{aad}|{version}".encode())
    try:
        return (dec.update(body) + dec.finalize()).decode()
    except InvalidTag as exc:
        raise SealError("sealed value failed authentication") from exc


def hmac_sm3(key_name: str, data: bytes) -> bytes:
    h = crypto_hmac.HMAC(_key(key_name), hashes.SM3())
    h.update(data)
    return h.finalize()


def hmac_sm3_under(key_name: str, prefix: bytes) -> Callable[[bytes], bytes]:
    """``data → hmac_sm3(key_name, prefix + data)`` for many messages: the key and the prefix are
    processed once, each message then costs a copy of that state (a payroll seals 45,000 lines)."""
    base = crypto_hmac.HMAC(_key(key_name), hashes.SM3())
    base.update(prefix)

    def mac(data: bytes) -> bytes:
        h = base.copy()
        h.update(data)
        return h.finalize()

    return mac


def blind_index(kind: str, normalised: str) -> bytes:
    """Keyed, domain-separated index for exact lookup (an unkeyed hash of an ID is brute-forceable)."""
    return hmac_sm3("idx", f"{kind}:{normalised}".encode())


def sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return std_hmac.compare_digest(a, b)
