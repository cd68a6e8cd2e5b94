"""Resumable uploads of the browser path (docs/sync-api.md, "Resumable uploads").

The real app on a real SQLite file, with the blob store as a local folder or a bucket on
moto's S3 server; the envelopes are sealed by crypto/envelope.py, laid out exactly as
the browser writes them. A cut mid-part goes through a real HTTP server and socket.
"""

import http.client
import json
import re
import socket
import struct
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from crypto.contents import ReportBody, encode_reporter_key
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from source_app import create_app
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.models import Submission, UploadSession
from source_app.services.clock import current_hour
from source_app.services.maintenance import sweep_orphans
from source_app.services.resumable_uploads import expire_uploads
from source_app.services.sync import list_pending
from source_app.storage import RESUMABLE_PART_BYTES
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.s3 import S3Endpoint
from tests.support.servers import gunicorn

PART = RESUMABLE_PART_BYTES


@pytest.fixture(params=["folder", "s3", "folder-postgres"])
def upload_app(request: pytest.FixtureRequest, source_data_dir: Path, unit_keys: UnitKeys) -> Flask:
    """The public app with its blobs in a folder or a bucket, its rows in SQLite or in
    PostgreSQL (when IBLAGH_TEST_POSTGRES_URL names one)."""
    database = request.getfixturevalue("postgres_url") if "postgres" in request.param else None
    environ = {
        **source_environ(source_data_dir, database),
        "IBLAGH_MAX_UPLOAD_BYTES": str(40 * 2**20),
    }
    environ["IBLAGH_MAX_ATTACHMENTS"] = "3"
    if request.param == "s3":
        s3: S3Endpoint = request.getfixturevalue("s3_endpoint")
        environ |= {
            "IBLAGH_BLOB_URL": f"s3://{s3.new_bucket()}/public",
            "IBLAGH_BLOB_S3_ENDPOINT": s3.url,
            "IBLAGH_BLOB_S3_REGION": "us-east-1",
        }
    return create_app(SourceConfig.from_env(environ))


def host_of(app: Flask) -> PublicHost:
    host: PublicHost = app.extensions[EXTENSION_KEY]
    return host


class Uploader:
    """The page's script, as requests: open, send parts, ask the offset, send the report."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ReporterActions(client).csrf_token()

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-CSRFToken": self.token, **extra}

    def open(self, size: int) -> tuple[int, dict[str, Any]]:
        response = self.client.post("/report/uploads", json={"size": size}, headers=self.headers())
        return response.status_code, response.get_json()

    def send(self, upload: str, offset: int, data: bytes) -> tuple[int, dict[str, Any]]:
        response = self.client.patch(
            f"/report/uploads/{upload}",
            data=data,
            content_type="application/octet-stream",
            headers=self.headers(**{"Upload-Offset": str(offset)}),
        )
        return response.status_code, response.get_json()

    def offset(self, upload: str) -> int | None:
        response = self.client.head(f"/report/uploads/{upload}", headers=self.headers())
        if response.status_code != 200:
            return None
        return int(response.headers["Upload-Offset"])

    def upload(self, envelope: bytes) -> str:
        status, answer = self.open(len(envelope))
        assert status == 201, answer
        assert answer["part_bytes"] == PART
        for start in range(0, len(envelope), PART):
            status, sent = self.send(answer["upload"], start, envelope[start : start + PART])
            assert status == 200, sent
            assert sent["offset"] == min(start + PART, len(envelope))
        return str(answer["upload"])

    def report(self, unit_keys: UnitKeys, uploads: list[tuple[str, int]]) -> int:
        return self.client.post(
            "/report/sealed",
            data=sealed_request(unit_keys, uploads),
            content_type="application/octet-stream",
            headers=self.headers(),
        ).status_code


def attachment_envelope(unit_keys: UnitKeys, content: bytes) -> bytes:
    meta = EnvelopeMetadata(kind="attachment", name="video.mp4")
    return seal_bytes(content, unit_keys.recipient_set.public_keys(), meta)


def sealed_request(unit_keys: UnitKeys, uploads: list[tuple[str, int]]) -> bytes:
    """A report body inline and its attachments named by upload id."""
    secrets = derive_reporter_secrets(ReceiptCode.generate())
    public_key = bytes(secrets.public_key)
    body = ReportBody(
        category="terrorism",
        urls=("https://t.me/example/42",),
        description="sent in parts",
        language="en",
        reporter_public_key=encode_reporter_key(public_key),
    )
    meta = EnvelopeMetadata(kind="report", content_type="application/json")
    envelope = seal_bytes(body.to_json(), unit_keys.recipient_set.public_keys(), meta)
    parts: list[list[Any]] = [["body", len(envelope)]]
    for index, (upload, size) in enumerate(uploads, start=1):
        parts.append([f"attachment-{index}", size, upload])
    manifest = json.dumps(
        {
            "lookup_value": b64encode(secrets.lookup_value),
            "reporter_public_key": b64encode(public_key),
            "parts": parts,
        }
    ).encode()
    return struct.pack(">I", len(manifest)) + manifest + envelope


def leftovers(app: Flask) -> tuple[list[UploadSession], list[Submission], list[Any], list[Any]]:
    """Upload rows, submissions, stored blobs and unfinished writes."""
    host = host_of(app)
    with host.sessions() as session:
        uploads = list(session.scalars(select(UploadSession)))
        submissions = list(session.scalars(select(Submission)))
    incoming = host.store.incoming()  # type: ignore[attr-defined]
    blobs = [key for key, _ in host.store.keys()]  # noqa: SIM118  # a store, not a dict
    return uploads, submissions, blobs, list(incoming)


def test_an_envelope_sent_in_parts_joins_the_report_in_its_commit(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    content = bytes(range(256)) * (9 * 2**20 // 256) + b"tail"
    envelope = attachment_envelope(unit_keys, content)
    uploader = Uploader(upload_app.test_client())
    status, answer = uploader.open(len(envelope))
    assert status == 201
    upload = answer["upload"]
    assert uploader.offset(upload) == 0
    assert uploader.send(upload, 0, envelope[:PART])[0] == 200
    assert uploader.offset(upload) == PART
    # Half sent: nothing is a blob, nothing is listed to the officer host.
    rows, submissions, blobs, incoming = leftovers(upload_app)
    assert len(rows) == 1 and submissions == [] and blobs == [] and len(incoming) == 1
    assert uploader.send(upload, PART, envelope[PART:])[0] == 200
    with host_of(upload_app).sessions() as session:
        assert list_pending(session, 10) == []
    assert uploader.report(unit_keys, [(upload, len(envelope))]) == 201
    rows, submissions, blobs, incoming = leftovers(upload_app)
    assert rows == [] and incoming == [] and len(submissions) == 1
    host = host_of(upload_app)
    with host.sessions() as session:
        (listed,) = list_pending(session, 10)
        blob = next(b for b in listed.blobs if b.name == "attachment-1")
        assert blob.size == len(envelope)
        with host.store.open(blob.blob_key) as stored:
            data = stored.read()
    assert open_bytes(data, [unit_keys.intake])[1] == content


def test_a_part_at_another_offset_or_of_another_size_is_refused(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    envelope = attachment_envelope(unit_keys, b"\x01" * (PART + 1000))
    uploader = Uploader(upload_app.test_client())
    upload = uploader.open(len(envelope))[1]["upload"]
    status, answer = uploader.send(upload, PART, envelope[PART:])
    assert (status, answer["error"], answer["offset"]) == (409, "offset_mismatch", 0)
    # A part shorter than a whole part that does not end the envelope.
    status, answer = uploader.send(upload, 0, envelope[:1000])
    assert (status, answer["error"]) == (400, "bad_part")
    assert uploader.send(upload, 0, envelope[:PART])[0] == 200
    # The same part again (a retry whose answer was lost) is refused, not written twice.
    status, answer = uploader.send(upload, 0, envelope[:PART])
    assert (status, answer["offset"]) == (409, PART)
    # Past the declared size.
    status, answer = uploader.send(upload, PART, envelope[PART:] + b"x")
    assert (status, answer["error"]) == (400, "bad_part")
    assert uploader.offset(upload) == PART
    # An unfinished upload does not make a report.
    assert uploader.report(unit_keys, [(upload, len(envelope))]) == 400


@pytest.mark.parametrize("offset", ["\u00b2", "\u00b9", "1" * 5000, "0x0", "-0", " 0"])
def test_an_offset_that_is_not_plain_digits_is_a_bad_request(
    upload_app: Flask, unit_keys: UnitKeys, offset: str
) -> None:
    # "²" passes str.isdigit and int refuses it; 5000 digits are more than int reads.
    envelope = attachment_envelope(unit_keys, b"\x01" * 100)
    uploader = Uploader(upload_app.test_client())
    upload = uploader.open(len(envelope))[1]["upload"]
    response = uploader.client.patch(
        f"/report/uploads/{upload}",
        data=envelope,
        content_type="application/octet-stream",
        headers=uploader.headers(**{"Upload-Offset": offset}),
    )
    assert (response.status_code, response.get_json()["error"]) == (400, "bad_request")
    assert uploader.offset(upload) == 0


def test_sizes_and_counts_are_refused_before_any_byte(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    uploader = Uploader(upload_app.test_client())
    status, answer = uploader.open(41 * 2**20)
    assert (status, answer["error"]) == (413, "too_large")
    assert answer["message"]
    assert uploader.open(0)[0] == 413
    assert (
        uploader.client.post(
            "/report/uploads", json={"size": "big"}, headers=uploader.headers()
        ).status_code
        == 400
    )
    # 40 MiB of files per report here: what the session holds open counts.
    assert uploader.open(30 * 2**20)[0] == 201
    assert uploader.open(15 * 2**20)[0] == 413
    # Three files per report here; the fourth open upload of the session is refused.
    for _ in range(2):
        assert uploader.open(5 * 2**20)[0] == 201
    status, answer = uploader.open(1000)
    assert (status, answer["error"]) == (400, "too_many")
    # Without the form's token: the CSRF page.
    assert uploader.client.post("/report/uploads", json={"size": 10}).status_code == 400
    # Another session sees none of these uploads and may open its own.
    other = Uploader(upload_app.test_client())
    assert other.open(10 * 2**20)[0] == 201
    # Nothing was written by any of this: rows only, empty unfinished writes.
    rows, _, blobs, _ = leftovers(upload_app)
    assert [row.received_bytes for row in rows] == [0, 0, 0, 0] and blobs == []


def test_an_upload_the_disk_could_not_keep_is_refused(
    source_data_dir: Path, unit_keys: UnitKeys
) -> None:
    """Declared sizes are promises: the free-space watermark counts what is still owed."""
    import shutil

    free = shutil.disk_usage(source_data_dir.parent).free
    if free < 4 * 2**30:
        pytest.skip("needs 4 GiB free to place the watermark")
    environ = {
        **source_environ(source_data_dir),
        "IBLAGH_MAX_UPLOAD_BYTES": str(800 * 2**20),
        # Room for one 700 MiB upload above the watermark, not for two (with 300 MiB of
        # slack either way for whatever else this machine writes or frees meanwhile).
        "IBLAGH_MIN_FREE_BYTES": str(free - 1000 * 2**20),
    }
    app = create_app(SourceConfig.from_env(environ))
    assert Uploader(app.test_client()).open(700 * 2**20)[0] == 201
    status, answer = Uploader(app.test_client()).open(700 * 2**20)
    assert (status, answer["error"]) == (507, "no_space")


def test_the_refusal_is_worded_in_the_pages_language(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    uploader = Uploader(upload_app.test_client())
    messages = set()
    for language in ("ar", "fr", "en", "es"):
        response = uploader.client.post(
            f"/report/uploads?lang={language}", json={"size": 2**40}, headers=uploader.headers()
        )
        assert response.status_code == 413
        messages.add(response.get_json()["message"])
    assert len(messages) == 4
    assert any(re.search("[\u0600-\u06ff]", message) for message in messages)


def test_a_completed_upload_serves_one_report_only(upload_app: Flask, unit_keys: UnitKeys) -> None:
    envelope = attachment_envelope(unit_keys, b"evidence" * 1000)
    uploader = Uploader(upload_app.test_client())
    upload = uploader.upload(envelope)
    # Another session cannot use it, nor learn its offset.
    other = Uploader(upload_app.test_client())
    assert other.offset(upload) is None
    assert other.report(unit_keys, [(upload, len(envelope))]) == 404
    assert uploader.report(unit_keys, [(upload, len(envelope))]) == 201
    assert uploader.report(unit_keys, [(upload, len(envelope))]) == 404
    rows, submissions, blobs, _ = leftovers(upload_app)
    assert rows == [] and len(submissions) == 1 and len(blobs) == 2


def test_an_upload_that_is_not_an_envelope_is_refused_and_nothing_is_left(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    uploader = Uploader(upload_app.test_client())
    upload = uploader.upload(b"\x00" * 5000)
    assert uploader.report(unit_keys, [(upload, 5000)]) == 400
    assert leftovers(upload_app) == ([], [], [], [])


def test_expired_uploads_are_swept_and_leave_nothing(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    envelope = attachment_envelope(unit_keys, b"\x02" * (PART + 10))
    uploader = Uploader(upload_app.test_client())
    done = uploader.upload(envelope)
    half = uploader.open(len(envelope))[1]["upload"]
    assert uploader.send(half, 0, envelope[:PART])[0] == 200
    host = host_of(upload_app)
    # The start-up sweep, even with no grace, spares uploads still open.
    with host.sessions() as session:
        assert sweep_orphans(session, host.store, grace_seconds=0).unfinished_removed == 0
    assert uploader.offset(half) == PART and uploader.offset(done) == len(envelope)
    with host.sessions() as session:
        assert expire_uploads(session, host.store, now=current_hour()) == 0
        later = current_hour() + timedelta(hours=26)
        assert expire_uploads(session, host.store, now=later) == 2
    assert leftovers(upload_app) == ([], [], [], [])
    assert uploader.offset(half) is None
    assert uploader.report(unit_keys, [(done, len(envelope))]) == 404


def test_giving_an_upload_up_removes_it_at_once(upload_app: Flask, unit_keys: UnitKeys) -> None:
    uploader = Uploader(upload_app.test_client())
    upload = uploader.open(PART + 10)[1]["upload"]
    assert uploader.send(upload, 0, b"\x03" * PART)[0] == 200
    response = uploader.client.delete(f"/report/uploads/{upload}", headers=uploader.headers())
    assert response.status_code == 200
    assert leftovers(upload_app) == ([], [], [], [])


# --- A cut mid-part, through a real server and socket ----------------------------------


@pytest.fixture
def served(source_data_dir: Path, tmp_path: Path) -> Iterator[tuple[Path, int]]:
    environ = source_environ(source_data_dir)
    with gunicorn("source_app:create_app()", environ, tmp_path / "public.log") as server:
        yield source_data_dir, server.port


def _session(port: int) -> tuple[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token and cookie
    return cookie, token.group(1)


def _request(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    text = response.read()
    return response.status, json.loads(text) if text else {}


def test_a_part_cut_mid_way_is_not_kept_and_the_upload_resumes(
    served: tuple[Path, int], unit_keys: UnitKeys
) -> None:
    data_dir, port = served
    content = bytes(range(251)) * (12 * 2**20 // 251)
    envelope = attachment_envelope(unit_keys, content)
    cookie, token = _session(port)
    headers = {"Cookie": cookie, "X-CSRFToken": token}
    status, answer = _request(
        port,
        "POST",
        "/report/uploads",
        {**headers, "Content-Type": "application/json"},
        json.dumps({"size": len(envelope)}).encode(),
    )
    assert status == 201
    path = f"/report/uploads/{answer['upload']}"
    part_headers = {**headers, "Content-Type": "application/octet-stream"}
    assert (
        _request(port, "PATCH", path, {**part_headers, "Upload-Offset": "0"}, envelope[:PART])[0]
        == 200
    )
    # The second part: headers and 3 MiB of its body, then the connection drops.
    second = envelope[PART:]
    with socket.create_connection(("127.0.0.1", port)) as cut:
        lines = [
            f"PATCH {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            *(f"{name}: {value}" for name, value in part_headers.items()),
            f"Upload-Offset: {PART}",
            f"Content-Length: {len(second)}",
        ]
        cut.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + second[: 3 * 2**20])
    status, state = _request(port, "HEAD", path, headers)
    assert status == 200
    _, state = _request(port, "GET", path, headers)
    assert state["offset"] == PART
    status, sent = _request(
        port, "PATCH", path, {**part_headers, "Upload-Offset": str(PART)}, second
    )
    assert (status, sent["offset"]) == (200, len(envelope))
    status, _ = _request(
        port,
        "POST",
        "/report/sealed",
        {**headers, "Content-Type": "application/octet-stream"},
        sealed_request(unit_keys, [(answer["upload"], len(envelope))]),
    )
    assert status == 201
    host = host_of(create_app(SourceConfig.from_env(source_environ(data_dir))))
    with host.sessions() as session:
        (listed,) = list_pending(session, 10)
        blob = next(b for b in listed.blobs if b.name == "attachment-1")
        with host.store.open(blob.blob_key) as stored:
            assert open_bytes(stored.read(), [unit_keys.intake])[1] == content


def test_recover_aborts_expired_uploads_and_spares_open_ones(
    source_app: Flask,
    source_data_dir: Path,
    unit_keys: UnitKeys,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``iblagh-source recover`` (grace 0, as before start-up) on an open and an old upload."""
    from source_app import cli

    uploader = Uploader(source_app.test_client())
    kept = uploader.open(PART + 10)[1]["upload"]
    old = uploader.open(PART + 10)[1]["upload"]
    for upload in (kept, old):
        assert uploader.send(upload, 0, b"\x04" * PART)[0] == 200
    host = host_of(source_app)
    with host.sessions() as session:
        rows = list(session.scalars(select(UploadSession)))
        rows[0].expires_hour = current_hour() - timedelta(hours=1)
        session.commit()
    for name, value in source_environ(source_data_dir).items():
        monkeypatch.setenv(name, value)
    assert cli.main(["recover"]) == 0
    assert "expired 1 resumable upload(s)" in capsys.readouterr().out
    remaining, _, _, incoming = leftovers(source_app)
    assert len(remaining) == 1 and len(incoming) == 1
    assert [uploader.offset(kept), uploader.offset(old)].count(PART) == 1


def test_the_same_report_sent_again_after_a_lost_answer_is_known_as_committed(
    upload_app: Flask, unit_keys: UnitKeys
) -> None:
    """A cut that loses the 201 makes the page send the very request again: the host
    says it is stored (409, committed) rather than that its uploads are unknown."""
    envelope = attachment_envelope(unit_keys, b"evidence" * 1000)
    uploader = Uploader(upload_app.test_client())
    upload = uploader.upload(envelope)
    payload = sealed_request(unit_keys, [(upload, len(envelope))])
    answers = [
        uploader.client.post(
            "/report/sealed",
            data=payload,
            content_type="application/octet-stream",
            headers=uploader.headers(),
        )
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 409]
    assert answers[1].get_json()["committed"] is True
    rows, submissions, _, _ = leftovers(upload_app)
    assert rows == [] and len(submissions) == 1


def test_a_declaration_sent_again_finds_its_upload(upload_app: Flask, unit_keys: UnitKeys) -> None:
    """The page names its upload: the same POST again after a lost answer opens nothing new
    (a second upload would hold the session's quota until it expired)."""
    uploader = Uploader(upload_app.test_client())
    name = "n" * 32

    def declare(size: int, upload: object = name) -> tuple[int, dict[str, Any]]:
        response = uploader.client.post(
            "/report/uploads", json={"size": size, "upload": upload}, headers=uploader.headers()
        )
        return response.status_code, response.get_json()

    status, first = declare(PART + 10)
    assert (status, first["upload"]) == (201, name)
    assert uploader.send(name, 0, b"\x05" * PART)[0] == 200
    status, again = declare(PART + 10)
    assert (status, again["upload"], again["offset"]) == (200, name, PART)
    rows, _, _, incoming = leftovers(upload_app)
    assert len(rows) == 1 and len(incoming) == 1
    # Another size under that name, a short name, or the name from another session.
    assert declare(PART + 11)[0] == 400
    assert declare(100, "short")[0] == 400
    assert declare(100, 42)[0] == 400
    other = Uploader(upload_app.test_client())
    response = other.client.post(
        "/report/uploads", json={"size": PART + 10, "upload": name}, headers=other.headers()
    )
    assert response.status_code == 400
