"""Opening one report from its blobs with the unit's keys, and saying what is wrong with it.

A report is whole when its body opens and verifies (body version 2, signed with the
reporter's key), every part the body names is there and nothing else, the identity
section is the one the body is bound to, and every attachment opens to the size and
SHA-256 the body records. Anything less is half a report.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nacl.public import PrivateKey

from crypto.contents import IdentitySection, ReportBody, envelope_sha256, reporter_key_bytes
from crypto.envelope import open_bytes
from crypto.errors import CryptoError
from tests.crash.reporter import SERIAL


class HalfReport(Exception):
    """A report that does not open whole."""


@dataclass(frozen=True)
class OpenedReport:
    serial: int
    reporter_key: bytes
    attachments: int
    identified: bool


def open_report(
    blobs: Mapping[str, bytes],
    report_keys: Sequence[PrivateKey],
    identity_keys: Sequence[PrivateKey],
) -> OpenedReport:
    """Open every blob of one report; :class:`HalfReport` says what is missing or wrong."""
    if "body" not in blobs:
        raise HalfReport(f"no body among {sorted(blobs)}")
    try:
        metadata, raw = open_bytes(blobs["body"], report_keys)
        body = ReportBody.from_json(raw)
    except CryptoError as exc:
        raise HalfReport(f"the body does not open: {exc}") from exc
    if metadata.kind != "report" or body.version != 2:
        raise HalfReport(f"the body is a {metadata.kind}, version {body.version}")
    if not body.signature_valid(body.reporter_verify_key):
        raise HalfReport("the body's signature does not verify")
    match = SERIAL.search(body.description)
    if match is None:
        raise HalfReport("the body names no serial")
    expected = {"body"} | {record.blob for record in body.attachments}
    if body.identity_sha256 is not None:
        expected.add("identity")
    if set(blobs) != expected:
        raise HalfReport(f"parts {sorted(blobs)}, the body names {sorted(expected)}")
    if body.identity_sha256 is not None:
        if envelope_sha256(blobs["identity"]) != body.identity_sha256:
            raise HalfReport("the identity section is not the one the body is bound to")
        try:
            _meta, identity_raw = open_bytes(blobs["identity"], identity_keys)
            identity = IdentitySection.from_json(identity_raw)
        except CryptoError as exc:
            raise HalfReport(f"the identity section does not open: {exc}") from exc
        if identity.binding != body.binding:
            raise HalfReport("the identity section carries another binding")
    for record in body.attachments:
        try:
            opened, content = open_bytes(blobs[record.blob], report_keys)
        except CryptoError as exc:
            raise HalfReport(f"{record.blob} does not open: {exc}") from exc
        digest = hashlib.sha256(content).hexdigest()
        if opened.kind != "attachment" or (len(content), digest) != (record.size, record.sha256):
            raise HalfReport(f"{record.blob} is not the file the body records")
    return OpenedReport(
        serial=int(match.group(1)),
        reporter_key=reporter_key_bytes(body.reporter_public_key),
        attachments=len(body.attachments),
        identified=body.identity_sha256 is not None,
    )
