"""Signed sync requests (docs/sync-api.md, "Authentication")."""

import hashlib
from typing import Any

import pytest
from nacl.signing import SigningKey
from werkzeug.datastructures import Headers

from crypto.errors import CryptoError, SignatureError, StaleRequest, UnsignedRequest
from crypto.keys import key_id_hex
from crypto.sync_auth import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SKEW_SECONDS,
    HeaderLookup,
    VerifiedRequest,
    sign_request,
    signing_message,
    verify_request,
)

NOW = 1_790_000_000
PATH = "/sync/v1/submissions?limit=50"
BODY = b'{"ids": ["00112233445566778899aabbccddeeff"]}'


@pytest.fixture()
def headers(sync_signing_key: SigningKey) -> dict[str, str]:
    return sign_request(sync_signing_key, "POST", PATH, BODY, now=NOW)


def verify(
    key: SigningKey,
    headers: HeaderLookup,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now: float = NOW,
) -> VerifiedRequest:
    return verify_request(
        [SigningKey.generate().verify_key, key.verify_key],
        method,
        path,
        hashlib.sha256(body).digest(),
        headers,
        now=now,
    )


def test_sign_verify(sync_signing_key: SigningKey, headers: dict[str, str]) -> None:
    verified = verify(sync_signing_key, headers)
    assert verified.key_id == key_id_hex(bytes(sync_signing_key.verify_key))
    assert verified.timestamp == NOW
    assert verified.nonce == headers[HEADER_NONCE]


def test_signed_message_is_the_documented_one() -> None:
    message = signing_message("post", PATH, hashlib.sha256(b"").digest(), NOW, "ab" * 16)
    assert message == (
        b"iblagh-sync/1\nPOST\n/sync/v1/submissions?limit=50\n"
        b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        b"1790000000\n" + b"ab" * 16
    )


def test_each_request_gets_a_fresh_nonce(sync_signing_key: SigningKey) -> None:
    nonces = {sign_request(sync_signing_key, "GET", PATH, b"", now=NOW)[HEADER_NONCE]}
    nonces.add(sign_request(sync_signing_key, "GET", PATH, b"", now=NOW)[HEADER_NONCE])
    assert len(nonces) == 2


def test_wrong_key(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError):
        verify(SigningKey.generate(), headers)


def test_wrong_key_claiming_a_trusted_key_id(sync_signing_key: SigningKey) -> None:
    forged = sign_request(SigningKey.generate(), "POST", PATH, BODY, now=NOW)
    forged[HEADER_KEY_ID] = key_id_hex(bytes(sync_signing_key.verify_key))
    with pytest.raises(SignatureError, match="bad request signature"):
        verify(sync_signing_key, forged)


def test_unknown_key_id(sync_signing_key: SigningKey, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError, match="unknown key"):
        verify_request([], "POST", PATH, hashlib.sha256(BODY).digest(), headers, now=NOW)
    with pytest.raises(SignatureError, match="unknown key"):
        verify(sync_signing_key, {**headers, HEADER_KEY_ID: "0" * 32})


@pytest.mark.parametrize(
    "altered",
    [
        {"method": "GET"},
        {"path": "/sync/v1/submissions?limit=51"},
        {"path": "/sync/v1/submissions"},
        {"path": "/sync/v1/ack"},
        {"body": BODY + b" "},
        {"body": b""},
    ],
    ids=["method", "query", "no-query", "path", "body", "empty-body"],
)
def test_altered_request_fails(
    sync_signing_key: SigningKey, headers: dict[str, str], altered: dict[str, Any]
) -> None:
    with pytest.raises(SignatureError, match="bad request signature"):
        verify(sync_signing_key, headers, **altered)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (HEADER_TIMESTAMP, str(NOW + 1)),
        (HEADER_TIMESTAMP, str(NOW - 1)),
        (HEADER_NONCE, "cd" * 16),
    ],
)
def test_altered_timestamp_or_nonce_fails(
    sync_signing_key: SigningKey, headers: dict[str, str], header: str, value: str
) -> None:
    assert headers[header] != value
    with pytest.raises(SignatureError, match="bad request signature"):
        verify(sync_signing_key, {**headers, header: value})


@pytest.mark.parametrize("skew", [-MAX_SKEW_SECONDS, MAX_SKEW_SECONDS, 0])
def test_skew_up_to_the_window_is_accepted(
    sync_signing_key: SigningKey, headers: dict[str, str], skew: int
) -> None:
    verify(sync_signing_key, headers, now=NOW + skew)


@pytest.mark.parametrize("skew", [-MAX_SKEW_SECONDS - 1, MAX_SKEW_SECONDS + 1, -86400, 86400])
def test_stale_in_both_directions(
    sync_signing_key: SigningKey, headers: dict[str, str], skew: int
) -> None:
    assert MAX_SKEW_SECONDS == 300
    with pytest.raises(StaleRequest):
        verify(sync_signing_key, headers, now=NOW + skew)


@pytest.mark.parametrize(
    "header", [HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE, HEADER_KEY_ID]
)
def test_missing_header(sync_signing_key: SigningKey, headers: dict[str, str], header: str) -> None:
    del headers[header]
    with pytest.raises(UnsignedRequest):
        verify(sync_signing_key, headers)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        (HEADER_TIMESTAMP, ""),
        (HEADER_TIMESTAMP, "soon"),
        (HEADER_TIMESTAMP, "1790000000.5"),
        (HEADER_NONCE, ""),
        (HEADER_NONCE, "ab" * 15),
        (HEADER_NONCE, "ab" * 17),
        (HEADER_NONCE, "AB" * 16),
        (HEADER_NONCE, "zz" * 16),
        (HEADER_NONCE, "ab" * 15 + "\nx"),
        (HEADER_SIGNATURE, ""),
        (HEADER_SIGNATURE, "not base64"),
        (HEADER_SIGNATURE, "AAAA"),
    ],
)
def test_malformed_header(
    sync_signing_key: SigningKey, headers: dict[str, str], header: str, value: str
) -> None:
    with pytest.raises(UnsignedRequest):
        verify(sync_signing_key, {**headers, header: value})


def test_werkzeug_headers_are_looked_up_case_insensitively(
    sync_signing_key: SigningKey, headers: dict[str, str]
) -> None:
    lowered = Headers([(name.lower(), value) for name, value in headers.items()])
    assert verify(sync_signing_key, lowered).nonce == headers[HEADER_NONCE]


def test_line_feed_in_a_signed_field_is_refused(sync_signing_key: SigningKey) -> None:
    with pytest.raises(CryptoError):
        sign_request(sync_signing_key, "GET", "/sync/v1/x\nX-Other: 1", b"", now=NOW)
