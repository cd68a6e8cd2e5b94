"""What the public host seals without JavaScript follows body version 2 (docs/envelope.md).

The report through the real form, pulled over the sync API and opened with the unit's
recovery key: the body is signed with the receipt code's Ed25519 key, names the identity
envelope it was sent with, and the identity carries the body's binding; a follow-up is
signed with the same key and has a binding of its own.
"""

import hashlib
from pathlib import Path

import pytest
from flask import Flask

from crypto.contents import IdentitySection, ReportBody
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from tests.conftest import ReporterActions, UnitKeys
from tests.support.pulled import OfficerView

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg" * 500


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> OfficerView:
    return OfficerView(source_data_dir, unit_keys)


def test_a_report_and_its_follow_up_are_bound_and_signed_with_the_codes_key(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    code = reporter.report(full_name="Amina Reporter", files=[(JPEG, "a.jpg")])
    assert reporter.follow_up(code, message="More.")[0] == 200
    verify_key = bytes(derive_reporter_secrets(ReceiptCode.parse(code)).verify_key)
    report, followup = officer.pending()

    body = ReportBody.from_json(report.blobs["body"].content)
    assert body.version == 2 and body.signature_valid(verify_key)
    identity = report.blobs["identity"]
    assert body.identity_sha256 == hashlib.sha256(identity.ciphertext).hexdigest()
    assert IdentitySection.from_json(identity.content).binding == body.binding
    [listed] = body.attachments
    attachment = report.blobs["attachment-1"]
    assert (listed.blob, listed.size, listed.sha256) == (
        "attachment-1",
        len(attachment.content),
        hashlib.sha256(attachment.content).hexdigest(),
    )

    later = ReportBody.from_json(followup.blobs["body"].content)
    assert later.signature_valid(verify_key), "the officer host verifies it with the first key"
    assert later.identity_sha256 is None and later.binding not in ("", body.binding)


def test_an_anonymous_report_says_it_has_no_identity(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    reporter.report()
    body = ReportBody.from_json(officer.only().blobs["body"].content)
    assert body.version == 2 and body.identity_sha256 is None and body.binding
