"""POST /report/sealed: a report the browser sealed, stored and committed like any other.

The envelopes here are sealed by crypto/envelope.py, whose output the browser writer
matches byte layout for byte layout (tests/browser_js/test_writer_interop.py); the
browser itself posts them in tests/browser/test_browser_sealing.py.
"""

import json
import struct
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crypto.contents import IdentitySection, ReportBody, encode_reporter_key
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets, lookup_hash
from source_app import create_app
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.models import Reporter, Submission
from tests.conftest import ReporterActions, UnitKeys, source_environ


def _sealed_request(
    unit_keys: UnitKeys, *, identity: bool = True, files: tuple[bytes, ...] = ()
) -> tuple[bytes, bytes, ReceiptCode]:
    code = ReceiptCode.generate()
    secrets = derive_reporter_secrets(code)
    recipients = unit_keys.recipient_set
    public_key = bytes(secrets.public_key)
    body = ReportBody(
        category="terrorism",
        urls=("https://t.me/example/42",),
        description="sealed in the browser",
        language="en",
        reporter_public_key=encode_reporter_key(public_key),
    )
    doc = EnvelopeMetadata(kind="report", content_type="application/json")
    parts = [("body", seal_bytes(body.to_json(), recipients.public_keys(), doc))]
    if identity:
        section = IdentitySection(full_name="Salma", phone="0612345678")
        meta = EnvelopeMetadata(kind="identity", content_type="application/json")
        parts.append(
            ("identity", seal_bytes(section.to_json(), recipients.identity_public_keys(), meta))
        )
    for index, content in enumerate(files, start=1):
        meta = EnvelopeMetadata(kind="attachment", name=f"f{index}.bin")
        parts.append((f"attachment-{index}", seal_bytes(content, recipients.public_keys(), meta)))
    manifest = json.dumps(
        {
            "lookup_value": b64encode(secrets.lookup_value),
            "reporter_public_key": b64encode(public_key),
            "parts": [[name, len(envelope)] for name, envelope in parts],
        }
    ).encode()
    payload = struct.pack(">I", len(manifest)) + manifest + b"".join(e for _, e in parts)
    return payload, secrets.lookup_value, code


def _post(client: FlaskClient, reporter: ReporterActions, payload: bytes, token: str = "") -> int:
    response = client.post(
        "/report/sealed",
        data=payload,
        content_type="application/octet-stream",
        headers={"X-CSRFToken": token or reporter.csrf_token()},
    )
    return response.status_code


def _rows(app: Flask) -> tuple[list[Reporter], list[Submission]]:
    host: PublicHost = app.extensions[EXTENSION_KEY]
    with host.sessions() as session:
        reporters = list(session.scalars(select(Reporter)))
        submissions = list(session.scalars(select(Submission)))
        for submission in submissions:
            _ = submission.blobs
        return reporters, submissions


def test_a_sealed_report_is_committed_with_the_lookup_hash_and_opens_for_the_unit(
    source_app: Flask, client: FlaskClient, reporter: ReporterActions, unit_keys: UnitKeys
) -> None:
    payload, lookup_value, code = _sealed_request(unit_keys, files=(b"\x00" * 70_000,))
    assert _post(client, reporter, payload) == 201
    (stored,), (submission,) = _rows(source_app)
    assert stored.lookup_hash == lookup_hash(lookup_value) != lookup_value
    assert stored.public_key == bytes(derive_reporter_secrets(code).public_key)
    assert submission.kind == "report"
    assert sorted(blob.name for blob in submission.blobs) == ["attachment-1", "body", "identity"]
    host: PublicHost = source_app.extensions[EXTENSION_KEY]
    blobs = {blob.name: host.store.open(blob.blob_key).read() for blob in submission.blobs}
    _, body = open_bytes(blobs["body"], [unit_keys.intake])
    assert ReportBody.from_json(body).description == "sealed in the browser"
    _, identity = open_bytes(blobs["identity"], [unit_keys.identity])
    assert IdentitySection.from_json(identity).full_name == "Salma"
    assert open_bytes(blobs["attachment-1"], [unit_keys.recovery])[1] == b"\x00" * 70_000
    # The status page finds the reporter by the code typed without JavaScript.
    status, page = reporter.status(code.grouped())
    assert status == 200, page[:500]


def test_an_identity_sealed_to_an_intake_key_is_refused_and_nothing_is_kept(
    source_app: Flask, client: FlaskClient, reporter: ReporterActions, unit_keys: UnitKeys
) -> None:
    payload, _, _ = _sealed_request(unit_keys, identity=False)
    manifest_length = struct.unpack(">I", payload[:4])[0]
    manifest = json.loads(payload[4 : 4 + manifest_length])
    body = payload[4 + manifest_length :]
    # The "identity" slot carries an envelope sealed to the report recipients.
    manifest["parts"].append(["identity", len(body)])
    manifest["parts"] = [manifest["parts"][0], manifest["parts"][1]]
    raw = json.dumps(manifest).encode()
    forged = struct.pack(">I", len(raw)) + raw + body + body
    assert _post(client, reporter, forged) == 400
    assert _rows(source_app) == ([], [])
    host: PublicHost = source_app.extensions[EXTENSION_KEY]
    assert list(host.store.keys()) == []


def test_truncated_or_padded_bodies_and_missing_tokens_are_refused(
    source_app: Flask, client: FlaskClient, reporter: ReporterActions, unit_keys: UnitKeys
) -> None:
    payload, _, _ = _sealed_request(unit_keys, files=(b"abc",))
    assert _post(client, reporter, payload[:-1]) == 400
    assert _post(client, reporter, payload + b"\x00") == 400
    assert _post(client, reporter, payload, token="not-a-token") == 400
    assert _post(client, reporter, b"\x00\x00\x00\x02{}") == 400
    assert _rows(source_app) == ([], [])
    assert _post(client, reporter, payload) == 201
    # The same submission again: its lookup hash is taken, nothing new is stored.
    assert _post(client, reporter, payload) == 409
    reporters, submissions = _rows(source_app)
    assert len(reporters) == 1 and len(submissions) == 1


def test_the_status_endpoint_answers_a_lookup_value_with_sealed_replies_only(
    client: FlaskClient, reporter: ReporterActions, unit_keys: UnitKeys
) -> None:
    payload, lookup_value, _code = _sealed_request(unit_keys, identity=False)
    assert _post(client, reporter, payload) == 201

    def status(body: bytes) -> tuple[int, dict[str, object]]:
        response = client.post(
            "/status/sealed",
            data=body,
            content_type="application/octet-stream",
            headers={"X-CSRFToken": reporter.csrf_token("/status")},
        )
        return response.status_code, response.get_json() or {}

    assert status(lookup_value) == (200, {"awaiting_pickup": 1, "replies": []})
    # The stored hash, another value, or a value of the wrong length finds nobody.
    assert status(lookup_hash(lookup_value))[0] == 404
    assert status(bytes(32))[0] == 404
    assert status(lookup_value[:31])[0] == 400


def test_the_browser_path_spends_the_same_submission_budget_as_the_form(
    source_data_dir: Path, unit_keys: UnitKeys
) -> None:
    app = create_app(
        SourceConfig.from_env(
            {**source_environ(source_data_dir), "IBLAGH_SUBMISSIONS_PER_MINUTE": "1"}
        )
    )
    client = app.test_client()
    actions = ReporterActions(client)
    first, _, _ = _sealed_request(unit_keys, identity=False)
    second, _, _ = _sealed_request(unit_keys, identity=False)
    assert _post(client, actions, first) == 201
    assert _post(client, actions, second) == 429
    assert len(_rows(app)[1]) == 1
