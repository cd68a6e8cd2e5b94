"""Fuzz targets: every parser that reads bytes an attacker can choose (issue 9, item 13).

Each target feeds one input to one parser and lets through only the typed error that
parser documents. Anything else escaping — an IndexError, a KeyError, a RecursionError,
a UnicodeError, a hang — is a crash the fuzzer reports. The same targets replay the
committed corpus in the ordinary suite (tests/fuzz/test_fuzz.py), so a crash once found
and fixed stays fixed.

The keys are fixed test keys (the vectors' own), so mutations of a valid envelope or
batch reach the code behind the framing checks.
"""

import base64
import contextlib
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from crypto.batch import read_batch
from crypto.contents import ContentError, IdentitySection, ReplyContent, ReportBody
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, open_bytes, read_header
from crypto.errors import BatchError, EnvelopeError, InvalidReceiptCode, SignatureError
from crypto.keys import key_id_hex
from crypto.receipt import ReceiptCode
from crypto.sync_api import SyncListingError, parse_id_list, parse_listing
from crypto.sync_auth import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    signing_message,
    verify_request,
)

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
CORPUS = Path(__file__).resolve().parent / "corpus"
# The batch vectors' signer (tests/vectors/make_batch_vectors.py).
BATCH_KEY = SigningKey(bytes(range(32)))
SYNC_KEY = SigningKey(bytes(range(2, 34)))
SYNC_NOW = 1_796_000_000


class FuzzCrash(AssertionError):
    """A target's own property failed (not a parser exception, a wrong answer)."""


@dataclass(frozen=True)
class Target:
    """One parser under fuzzing: what it runs and which seeds start its corpus."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], Iterator[bytes]]


def _envelope_vectors() -> list[dict[str, str]]:
    return list(json.loads((VECTORS / "envelope_v1.json").read_text(encoding="utf-8")))


def _envelope_key() -> PrivateKey:
    first = _envelope_vectors()[0]
    return PrivateKey(base64.b64decode(first["recipient_private_key"]))


_ENVELOPE_KEY: PrivateKey | None = None


def _key() -> PrivateKey:
    global _ENVELOPE_KEY
    if _ENVELOPE_KEY is None:
        _ENVELOPE_KEY = _envelope_key()
    return _ENVELOPE_KEY


# --- envelopes -----------------------------------------------------------------------


def run_envelope_header(data: bytes) -> None:
    """The public host's framing check on every uploaded envelope."""
    try:
        read_header(io.BytesIO(data))
    except EnvelopeError:
        return


def run_envelope_open(data: bytes) -> None:
    """The officer host opening an envelope (header, stream, metadata, trailer)."""
    try:
        metadata, content = open_bytes(data, [_key()])
    except EnvelopeError:
        return
    # Whatever opened must round-trip through the metadata encoder.
    if EnvelopeMetadata.from_json(metadata.to_json()) != metadata:
        raise FuzzCrash("metadata does not round-trip")
    del content


def run_envelope_metadata(data: bytes) -> None:
    try:
        EnvelopeMetadata.from_json(data)
    except EnvelopeError:
        return


def _envelope_seeds() -> Iterator[bytes]:
    key_b64 = base64.b64encode(bytes(_key())).decode()
    for vector in _envelope_vectors():
        envelope = base64.b64decode(vector["envelope"])
        # Big vectors slow every execution; the fuzzer reaches chunk code with small ones.
        if len(envelope) <= 8192 and vector["recipient_private_key"] == key_b64:
            yield envelope


def _metadata_seeds() -> Iterator[bytes]:
    yield EnvelopeMetadata(kind="report", content_type="application/json").to_json()
    yield EnvelopeMetadata(kind="attachment", name="صورة.jpg", content_type="image/jpeg").to_json()
    yield b'{"kind":"identity","name":"","type":"x","extra":[1,{"a":null}]}'


# --- contents (what a reporter seals: anyone can seal to the unit) ------------------------


def run_report_body(data: bytes) -> None:
    try:
        body = ReportBody.from_json(data)
    except ContentError:
        return
    # A parsed body answers whether a signature holds, never raises (issue 9, item 2).
    if not isinstance(body.signature_valid(body.reporter_verify_key), bool):
        raise FuzzCrash("signature_valid returned a non-boolean")


def run_identity(data: bytes) -> None:
    try:
        IdentitySection.from_json(data)
    except ContentError:
        return


def run_reply(data: bytes) -> None:
    try:
        ReplyContent.from_json(data)
    except ContentError:
        return


def _content_seeds() -> Iterator[bytes]:
    yield json.dumps(
        {
            "v": 1,
            "category": "fraud",
            "description": "وصف قصير",
            "urls": ["hxxps://example[.]org/a"],
            "good_faith": True,
            "attachments": [
                {"blob": "attachment-1", "name": "a.jpg", "size": 3, "sha256": "0" * 64}
            ],
        },
        ensure_ascii=False,
    ).encode()
    yield json.dumps({"v": 1, "full_name": "Nom", "phone": "+212600000000"}).encode()
    yield json.dumps({"v": 1, "sent_at": "2026-11-28T18:00:00Z", "status": "referred"}).encode()
    yield b'{"v":1,"category":"x","urls":[1],"attachments":{}}'
    # Signed version 2 bodies, good and tampered (docs/envelope.md, body version 2).
    vectors = json.loads((VECTORS / "body_v2.json").read_text(encoding="utf-8"))
    for vector in [*vectors["good"], *vectors["bad"][:6]]:
        yield vector["body"].encode()


# --- batches -------------------------------------------------------------------------


def run_batch(data: bytes) -> None:
    for direction in ("outbound", "inbound"):
        try:
            read_batch(io.BytesIO(data), [BATCH_KEY.verify_key], None, direction=direction)
        except BatchError:
            continue


def _batch_seeds() -> Iterator[bytes]:
    vectors = json.loads((VECTORS / "batch_v1.json").read_text(encoding="utf-8"))
    yield bytes.fromhex(vectors["batch"])
    for bad in vectors["bad"][:8]:
        yield bytes.fromhex(bad["batch"])


# --- the sync API ------------------------------------------------------------------------


def run_listing(data: bytes) -> None:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return
    with contextlib.suppress(SyncListingError):
        parse_listing(document)
    with contextlib.suppress(SyncListingError):
        parse_id_list(document.get("ids") if isinstance(document, dict) else document)


def _listing_seeds() -> Iterator[bytes]:
    vectors = json.loads((VECTORS / "sync_listing_v1.json").read_text(encoding="utf-8"))
    for document in vectors["documents"]:
        yield json.dumps(document.get("document", document)).encode()
    yield json.dumps({"ids": ["0123456789abcdef0123456789abcdef"]}).encode()


_SIGNED_FIELDS = (HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE, HEADER_KEY_ID)


def run_sync_request(data: bytes) -> None:
    """The public host verifying a request's signature headers, path and method.

    The input is a JSON object of strings (method, path, body, and the four headers),
    so that mutations keep most of a real signed request.
    """
    try:
        fields = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return
    if not isinstance(fields, dict):
        return
    headers = {k: v for k, v in fields.items() if k in _SIGNED_FIELDS and isinstance(v, str)}
    method, path, body = fields.get("method"), fields.get("path"), fields.get("body")
    if not (isinstance(method, str) and isinstance(path, str) and isinstance(body, str)):
        return
    try:
        verified = verify_request(
            [SYNC_KEY.verify_key],
            method,
            path,
            hashlib.sha256(body.encode("utf-8", "surrogatepass")).digest(),
            headers,
            now=SYNC_NOW,
        )
    except SignatureError:
        return
    # Accepted: it must be exactly what the key signed.
    if verified.nonce != headers[HEADER_NONCE]:
        raise FuzzCrash("a verified request reports another nonce than it carried")


def _sync_request_seeds() -> Iterator[bytes]:
    for method, path, body in (
        ("GET", "/sync/v1/submissions?limit=500", ""),
        ("POST", "/sync/v1/ack", '{"ids":["0123456789abcdef0123456789abcdef"]}'),
    ):
        # A fixed nonce, so that the seeds are the same bytes on every run.
        nonce = hashlib.sha256(path.encode()).hexdigest()[:32]
        digest = hashlib.sha256(body.encode()).digest()
        message = signing_message(method, path, digest, SYNC_NOW, nonce)
        headers = {
            HEADER_TIMESTAMP: str(SYNC_NOW),
            HEADER_NONCE: nonce,
            HEADER_KEY_ID: key_id_hex(bytes(SYNC_KEY.verify_key)),
            HEADER_SIGNATURE: b64encode(SYNC_KEY.sign(message).signature),
        }
        yield json.dumps({"method": method, "path": path, "body": body, **headers}).encode()


# --- the receipt code normaliser ----------------------------------------------------------


def run_receipt_code(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    try:
        code = ReceiptCode.parse(text)
    except InvalidReceiptCode:
        return
    # Whatever parses is twenty ASCII digits and reads back the same from its display form.
    if ReceiptCode.parse(code.grouped()) != code:
        raise FuzzCrash("a parsed code does not survive its display form")


def _receipt_seeds() -> Iterator[bytes]:
    yield b"1234 5678 9012 3456 7890"
    yield "١٢٣٤-٥٦٧٨-٩٠١٢-٣٤٥٦-٧٨٩٠".encode()
    yield "۱۲۳۴ ۵۶۷۸ ۹۰۱۲ ۳۴۵۶ ۷۸۹۰".encode()
    yield "\u200f1234\u00a05678.9012_3456—7890".encode()


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target("envelope_header", run_envelope_header, _envelope_seeds),
        Target("envelope_open", run_envelope_open, _envelope_seeds),
        Target("envelope_metadata", run_envelope_metadata, _metadata_seeds),
        Target("report_body", run_report_body, _content_seeds),
        Target("identity", run_identity, _content_seeds),
        Target("reply", run_reply, _content_seeds),
        Target("batch", run_batch, _batch_seeds),
        Target("listing", run_listing, _listing_seeds),
        Target("sync_request", run_sync_request, _sync_request_seeds),
        Target("receipt_code", run_receipt_code, _receipt_seeds),
    )
}


def run_planted(data: bytes) -> None:
    """A parser with a planted bug, so the suite can check the harness reports crashes."""
    if data.startswith(b"{"):
        raise KeyError("planted")


PLANTED = Target("planted", run_planted, _content_seeds)


def find_target(name: str) -> Target:
    return PLANTED if name == PLANTED.name else TARGETS[name]


def corpus_dir(name: str) -> Path:
    return CORPUS / name
