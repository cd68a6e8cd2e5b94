"""The sync API: only the officer host's signed, fresh, unreplayed requests get through."""

import hashlib
import io
import json
import secrets
import time
from pathlib import Path

import pytest
from flask import Flask
from nacl.public import PrivateKey

from crypto.contents import ReportBody
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.keys import generate_signing_key
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from crypto.sync_auth import HEADER_SIGNATURE, HEADER_TIMESTAMP, MAX_SKEW_SECONDS, sign_request
from source_app import create_app, create_sync_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.sync import SignedSyncClient, freeze_clock


@pytest.fixture
def config(source_data_dir: Path, database_url: str) -> SourceConfig:
    return SourceConfig.from_env(source_environ(source_data_dir, database_url))


@pytest.fixture
def public_app(config: SourceConfig) -> Flask:
    return create_app(config)


@pytest.fixture
def sync_app(config: SourceConfig) -> Flask:
    return create_sync_app(config)


@pytest.fixture
def officer(sync_app: Flask, unit_keys: UnitKeys) -> SignedSyncClient:
    return SignedSyncClient(sync_app.test_client(), unit_keys.sync)


@pytest.fixture
def public(public_app: Flask) -> ReporterActions:
    return ReporterActions(public_app.test_client())


def blob_files(config: SourceConfig) -> list[Path]:
    return [p for p in config.blob_dir.rglob("*") if p.is_file()]


def test_pulled_report_decrypts_with_the_intake_key_and_the_recovery_key(
    public: ReporterActions, officer: SignedSyncClient, unit_keys: UnitKeys
) -> None:
    public.report(description="Le canal publie des vidéos de décapitation.", full_name="Amina B.")
    [item] = officer.pending()
    assert item["kind"] == "report"
    assert {b["name"] for b in item["blobs"]} == {"body", "identity"}
    body = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/body")
    assert hashlib.sha256(body.data).hexdigest() == item["blobs"][0]["sha256"]
    for key in (unit_keys.intake, unit_keys.recovery):
        metadata, plaintext = open_bytes(body.data, [key])
        assert metadata.kind == "report"
        content = json.loads(json.loads(plaintext)["content"])
        assert content["description"] == "Le canal publie des vidéos de décapitation."
        assert content["urls"] == ["https://t.me/example/42"]
    identity = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/identity")
    for key in (unit_keys.identity, unit_keys.recovery):
        metadata, plaintext = open_bytes(identity.data, [key])
        assert metadata.kind == "identity"
        assert json.loads(plaintext)["full_name"] == "Amina B."


def test_each_body_seals_the_reporter_key_the_listing_shows(
    public: ReporterActions, officer: SignedSyncClient, unit_keys: UnitKeys
) -> None:
    """The officer host replies to the sealed copy, which the public host cannot swap."""
    code = public.report()
    status, page = public.follow_up(code)
    assert status == 200, page[:2000]
    items = officer.pending()
    assert sorted(item["kind"] for item in items) == ["followup", "report"]
    expected = bytes(derive_reporter_secrets(ReceiptCode.parse(code)).private_key.public_key)
    for item in items:
        body = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/body")
        _, plaintext = open_bytes(body.data, [unit_keys.intake])
        sealed = ReportBody.from_json(plaintext)
        assert sealed.reporter_public_key == item["reporter_public_key"]
        assert sealed.reporter_key() == expected


def test_acknowledged_ciphertext_is_deleted_from_the_public_host(
    public: ReporterActions, officer: SignedSyncClient, config: SourceConfig
) -> None:
    public.report()
    public.report()
    items = officer.pending()
    assert len(items) == 2 and len(blob_files(config)) == 2
    result = officer.ack([items[0]["id"]])
    assert result == {"deleted": [items[0]["id"]], "unknown": []}
    assert [i["id"] for i in officer.pending()] == [items[1]["id"]]
    assert len(blob_files(config)) == 1
    gone = officer.get(f"/sync/v1/submissions/{items[0]['id']}/blobs/body")
    assert gone.status_code == 404
    again = officer.ack([items[0]["id"], items[1]["id"]])
    assert again == {"deleted": [items[1]["id"]], "unknown": [items[0]["id"]]}
    assert blob_files(config) == []


def test_unsigned_request_is_refused(sync_app: Flask) -> None:
    response = sync_app.test_client().get("/sync/v1/submissions")
    assert response.status_code == 401
    assert response.get_json() == {"error": "unsigned"}


def test_request_signed_by_another_key_is_refused(sync_app: Flask) -> None:
    intruder = SignedSyncClient(sync_app.test_client(), generate_signing_key())
    response = intruder.get("/sync/v1/submissions")
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad_signature"}


def test_signature_over_another_path_is_refused(sync_app: Flask, unit_keys: UnitKeys) -> None:
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/recipient-set", b"")
    response = sync_app.test_client().get("/sync/v1/submissions", headers=headers)
    assert response.status_code == 401
    assert response.get_json() == {"error": "bad_signature"}


def test_tampered_body_is_refused_and_nothing_is_deleted(
    public: ReporterActions, officer: SignedSyncClient, sync_app: Flask, unit_keys: UnitKeys
) -> None:
    public.report()
    [item] = officer.pending()
    headers = sign_request(unit_keys.sync, "POST", "/sync/v1/ack", b'{"ids": []}')
    forged = json.dumps({"ids": [item["id"]]}).encode()
    response = sync_app.test_client().post("/sync/v1/ack", data=forged, headers=headers)
    assert response.status_code == 401
    assert [i["id"] for i in officer.pending()] == [item["id"]]


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
def test_stale_request_is_refused(officer: SignedSyncClient, skew: int) -> None:
    response = officer.request("GET", "/sync/v1/submissions", now=time.time() + skew)
    assert response.status_code == 401
    assert response.get_json() == {"error": "stale"}


@pytest.mark.parametrize("signed_ago", [0, 150, 299])
def test_replayed_request_is_refused_for_as_long_as_its_timestamp_is_accepted(
    sync_app: Flask, unit_keys: UnitKeys, signed_ago: int
) -> None:
    """The nonce must be remembered for the whole window, not just a moment."""
    client = sync_app.test_client()
    # One whole-second "now" for both ends, so a slow machine cannot age the replay.
    now = int(time.time())
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/submissions", b"", now=now - signed_ago)
    assert client.get("/sync/v1/submissions", headers=headers).status_code == 200
    # Remembered nonces expire by the server's clock: replay as late as the window allows.
    with freeze_clock(now + (MAX_SKEW_SECONDS - signed_ago) - 1):
        replay = client.get("/sync/v1/submissions", headers=headers)
    assert replay.status_code == 401
    assert replay.get_json() == {"error": "replayed"}


def test_absurd_timestamps_are_refused_without_a_500(sync_app: Flask, unit_keys: UnitKeys) -> None:
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/submissions", b"")
    headers[HEADER_TIMESTAMP] = "9" * 400
    response = sync_app.test_client().get("/sync/v1/submissions", headers=headers)
    assert response.status_code == 401


def test_deeply_nested_ack_body_is_a_400_not_a_500(officer: SignedSyncClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert officer.request("POST", "/sync/v1/ack", body).status_code == 400


def test_garbled_signature_header_is_refused(sync_app: Flask, unit_keys: UnitKeys) -> None:
    headers = sign_request(unit_keys.sync, "GET", "/sync/v1/submissions", b"")
    headers[HEADER_SIGNATURE] = "not base64!"
    response = sync_app.test_client().get("/sync/v1/submissions", headers=headers)
    assert response.status_code == 401


def test_reply_reaches_the_reporter_and_only_with_the_code(
    public: ReporterActions, officer: SignedSyncClient
) -> None:
    code = public.report()
    other_code = public.report()
    items = officer.pending()
    reporter_key = next(i["reporter_public_key"] for i in items if i["id"] == items[0]["id"])
    from nacl.public import PublicKey

    from crypto.encoding import b64decode

    reply = {
        "v": 1,
        "sent_at": "2026-11-28T18:00:00Z",
        "status": "under_review",
        "reason": None,
        "message": "Merci, nous examinons ce canal.",
    }
    envelope = seal_bytes(
        json.dumps(reply).encode(),
        [PublicKey(b64decode(reporter_key))],
        EnvelopeMetadata(kind="reply", content_type="application/json"),
    )
    reply_id = secrets.token_hex(16)
    path = f"/sync/v1/reporters/{items[0]['reporter_id']}/replies/{reply_id}"
    first = officer.request("POST", path, envelope)
    assert first.status_code == 201
    second = officer.request("POST", path, envelope)
    assert second.status_code == 200
    status, page = public.status(code)
    assert status == 200
    assert "Merci, nous examinons ce canal." in page
    assert "Under review" in page
    _, other_page = public.status(other_code)
    assert "Merci" not in other_page


def test_reply_that_is_not_an_envelope_is_refused(
    public: ReporterActions, officer: SignedSyncClient
) -> None:
    public.report()
    [item] = officer.pending()
    path = f"/sync/v1/reporters/{item['reporter_id']}/replies/{secrets.token_hex(16)}"
    response = officer.request("POST", path, b"plain text reply")
    assert response.status_code == 400


def test_reply_to_unknown_reporter_is_404(officer: SignedSyncClient) -> None:
    envelope = seal_bytes(b"{}", [PrivateKey.generate().public_key], EnvelopeMetadata("reply"))
    path = f"/sync/v1/reporters/{secrets.token_hex(16)}/replies/{secrets.token_hex(16)}"
    response = officer.request("POST", path, envelope)
    assert response.status_code == 404


@pytest.mark.parametrize("limit", ["0", "501", "abc", "-1"])
def test_bad_limit_is_400(officer: SignedSyncClient, limit: str) -> None:
    assert officer.get(f"/sync/v1/submissions?limit={limit}").status_code == 400


def test_recipient_set_is_served_as_installed(
    officer: SignedSyncClient, source_data_dir: Path
) -> None:
    response = officer.get("/sync/v1/recipient-set")
    assert response.data == (source_data_dir / "recipient-set.json").read_bytes()


def test_public_site_does_not_serve_the_sync_api(public_app: Flask) -> None:
    assert public_app.test_client().get("/sync/v1/submissions").status_code == 404


def test_sync_listener_does_not_serve_the_public_pages(
    sync_app: Flask, officer: SignedSyncClient
) -> None:
    assert officer.get("/report").status_code in (401, 404)
    assert sync_app.test_client().get("/").status_code == 404


def test_blob_path_tricks_are_404(officer: SignedSyncClient, public: ReporterActions) -> None:
    public.report()
    [item] = officer.pending()
    for name in ("..%2F..%2Fsource.db", "body.bak", "BODY"):
        assert officer.get(f"/sync/v1/submissions/{item['id']}/blobs/{name}").status_code == 404
    stream = io.BytesIO()
    stream.write(officer.get(f"/sync/v1/submissions/{item['id']}/blobs/body").data)
    assert stream.getbuffer().nbytes == item["blobs"][0]["size"]


def test_a_percent_encoded_path_is_refused_even_when_it_decodes_to_the_signed_one(
    officer: SignedSyncClient, public: ReporterActions
) -> None:
    public.report()
    signed = sign_request(officer.key, "GET", "/sync/v1/submissions", b"")
    # docs/sync-api.md: paths carry no percent-escapes; the signed path is the one sent.
    response = officer.client.get("/sync/v1/%73ubmissions", headers=signed)
    assert (response.status_code, response.get_json()) == (400, {"error": "encoded_path"})
    assert officer.pending(), "the submission is still there for a proper request"
