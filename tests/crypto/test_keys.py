"""Key ids and passphrase-wrapped secrets (docs/envelope.md: key identifiers, wrapped secrets)."""

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

from crypto.errors import CryptoError, WrappedKeyError, WrongPassphrase
from crypto.keys import (
    KEY_ID_BYTES,
    WRAP_PARAMS_FAST,
    generate_box_key,
    key_id,
    key_id_hex,
    public_key_from_bytes,
    unwrap_secret,
    verify_key_from_bytes,
    wrap_secret,
)

SECRET = bytes(range(32))
PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def wrapped() -> bytes:
    return wrap_secret(SECRET, PASSPHRASE, WRAP_PARAMS_FAST)


def document(wrapped: bytes) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(wrapped)
    return parsed


def rewrap(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True).encode()


# --- Key ids --------------------------------------------------------------------------


def test_key_id_is_sixteen_stable_bytes() -> None:
    # The known answer in docs/envelope.md.
    assert key_id(bytes(range(32))).hex() == "e851182999514531dd10cb558c503980"
    assert key_id_hex(bytes(range(32))) == "e851182999514531dd10cb558c503980"
    key = generate_box_key()
    assert len(key_id(bytes(key.public_key))) == KEY_ID_BYTES == 16
    assert key_id(bytes(key.public_key)) == key_id(bytes(key.public_key))
    assert key_id(bytes(key.public_key)) != key_id(bytes(generate_box_key().public_key))


def test_key_constructors_check_lengths() -> None:
    key = PrivateKey.generate()
    assert public_key_from_bytes(bytes(key.public_key)) == key.public_key
    for raw in (b"", bytes(31), bytes(33)):
        with pytest.raises(CryptoError):
            public_key_from_bytes(raw)
        with pytest.raises(CryptoError):
            verify_key_from_bytes(raw)


# --- Wrapping -------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(secret=st.binary(max_size=96), passphrase=st.text(min_size=1, max_size=40))
def test_wrap_unwrap_round_trip(secret: bytes, passphrase: str) -> None:
    assert unwrap_secret(wrap_secret(secret, passphrase, WRAP_PARAMS_FAST), passphrase) == secret


def test_wrapped_document_says_how_it_was_made(wrapped: bytes) -> None:
    parsed = document(wrapped)
    assert set(parsed) == {"v", "kdf", "opslimit", "memlimit", "salt", "secretbox"}
    assert (parsed["v"], parsed["kdf"]) == (1, "argon2id")
    assert (parsed["opslimit"], parsed["memlimit"]) == (1, 8192)
    assert len(base64.b64decode(parsed["salt"])) == 16
    # nonce (24) + MAC (16) + the secret
    assert len(base64.b64decode(parsed["secretbox"])) == 24 + 16 + len(SECRET)
    assert SECRET not in wrapped and base64.b64encode(SECRET) not in wrapped


def test_wrapping_twice_uses_fresh_salt_and_nonce() -> None:
    first = document(wrap_secret(SECRET, PASSPHRASE, WRAP_PARAMS_FAST))
    second = document(wrap_secret(SECRET, PASSPHRASE, WRAP_PARAMS_FAST))
    assert first["salt"] != second["salt"]
    assert first["secretbox"] != second["secretbox"]


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(CryptoError):
        wrap_secret(SECRET, "", WRAP_PARAMS_FAST)


@pytest.mark.parametrize(
    "passphrase", ["", "correct horse battery stapl", "Correct horse battery staple"]
)
def test_wrong_passphrase(wrapped: bytes, passphrase: str) -> None:
    with pytest.raises(WrongPassphrase):
        unwrap_secret(wrapped, passphrase)


def _flip_b64(text: str, index: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[index] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("salt", lambda v: _flip_b64(v, 0)),
        ("secretbox", lambda v: _flip_b64(v, 0)),  # nonce
        ("secretbox", lambda v: _flip_b64(v, 30)),  # MAC
        ("secretbox", lambda v: _flip_b64(v, -1)),  # ciphertext
        ("secretbox", lambda v: v[:-8]),
        ("opslimit", lambda v: v + 1),
    ],
    ids=["salt", "nonce", "mac", "ciphertext", "shortened", "opslimit"],
)
def test_tampered_content_fails_like_a_wrong_passphrase(
    wrapped: bytes, field: str, change: Any
) -> None:
    parsed = document(wrapped)
    parsed[field] = change(parsed[field])
    with pytest.raises(WrongPassphrase):
        unwrap_secret(rewrap(parsed), PASSPHRASE)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("v", 2),
        ("v", "1"),
        ("kdf", "scrypt"),
        ("opslimit", True),
        ("opslimit", "1"),
        ("memlimit", 8192.0),
        ("salt", None),
        ("salt", "not base64!"),
        ("salt", base64.b64encode(bytes(15)).decode()),
        ("secretbox", 7),
        ("secretbox", "%%%%"),
    ],
)
def test_malformed_document_is_a_wrapped_key_error(wrapped: bytes, field: str, value: Any) -> None:
    parsed = document(wrapped)
    parsed[field] = value
    with pytest.raises(WrappedKeyError):
        unwrap_secret(rewrap(parsed), PASSPHRASE)


@pytest.mark.parametrize("field", ["v", "kdf", "opslimit", "memlimit", "salt", "secretbox"])
def test_missing_field_is_a_wrapped_key_error(wrapped: bytes, field: str) -> None:
    parsed = document(wrapped)
    del parsed[field]
    with pytest.raises(WrappedKeyError):
        unwrap_secret(rewrap(parsed), PASSPHRASE)


@pytest.mark.parametrize("raw", [b"", b"\xff\xfe", b"[]", b'"key"', b"{}"])
def test_not_a_document_is_a_wrapped_key_error(raw: bytes) -> None:
    with pytest.raises(WrappedKeyError):
        unwrap_secret(raw, PASSPHRASE)


@pytest.mark.parametrize(
    ("opslimit", "memlimit"),
    [(0, 8192), (65, 8192), (1, 8191), (1, 4 * 1024**3 + 1), (-1, 8192), (1, 2**80)],
)
def test_out_of_range_costs_are_refused_before_any_work(
    wrapped: bytes, opslimit: int, memlimit: int
) -> None:
    parsed = document(wrapped)
    parsed.update(opslimit=opslimit, memlimit=memlimit)
    with pytest.raises(WrappedKeyError, match="out-of-range"):
        unwrap_secret(rewrap(parsed), PASSPHRASE)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_flipped_byte_never_opens_to_another_secret(wrapped: bytes, data: st.DataObject) -> None:
    # Some flips are harmless (JSON whitespace, unused base64 bits, memlimit rounding to
    # KiB): those open to the same secret. Every other one is a typed error.
    index = data.draw(st.integers(0, len(wrapped) - 1))
    damaged = bytearray(wrapped)
    damaged[index] ^= data.draw(st.integers(1, 255))
    try:
        secret = unwrap_secret(bytes(damaged), PASSPHRASE)
    except (WrongPassphrase, WrappedKeyError):
        return
    assert secret == SECRET
