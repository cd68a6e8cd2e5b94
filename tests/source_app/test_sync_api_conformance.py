"""The sync API as docs/sync-api.openapi.yaml describes it: schemathesis against a real
public host's sync listener (a WSGI server thread on loopback, a real SQLite file and
blob folder holding real reports). Signed requests past authentication get no 5xx and
only answers the description declares; unsigned ones get only 401.

IBLAGH_SYNC_CONFORMANCE_EXAMPLES sets the examples per operation and mode (20 in
``make test``; raise it for a longer hunt).
"""

import json
import os
import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from nacl.public import PublicKey
from nacl.signing import SigningKey
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import WSGIRequestHandler, make_server

from crypto.audit_anchor import Checkpoint, sign_checkpoint
from crypto.encoding import b64decode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.errors import CryptoError
from crypto.sync_auth import sign_request
from source_app import create_app, create_sync_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, UnitKeys, source_environ

SPEC = Path(__file__).resolve().parents[2] / "docs" / "sync-api.openapi.yaml"
EXAMPLES = int(os.environ.get("IBLAGH_SYNC_CONFORMANCE_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class SyncSignature(requests.auth.AuthBase):
    """Signs each request as sent (method, path and query, body) with a sync key."""

    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body or b""
        data = body.encode() if isinstance(body, str) else bytes(body)  # type: ignore[arg-type]
        try:
            signed = sign_request(self.key, prepared.method or "GET", prepared.path_url, data)
        except (CryptoError, UnicodeError):
            return prepared  # a path no signer can sign: it goes unsigned, and gets 401
        prepared.headers.update(signed)
        return prepared


@dataclass
class SyncHost:
    """A public host with reports in it, its sync listener serving on loopback."""

    url: str
    listing: list[dict[str, Any]]


class QuietHandler(WSGIRequestHandler):
    """Werkzeug's handler logs the client's address, which the host strips from the
    environ it shares (source_app/web.py, ForgetClient): log nothing instead."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


def _serve(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def sync_host(tmp_path: Path, unit_keys: UnitKeys) -> Iterator[SyncHost]:
    """A fresh host per test: ``ack`` deletes what it holds."""
    data_dir = tmp_path / "source"
    unit_keys.install(data_dir)
    config = SourceConfig.from_env(
        source_environ(data_dir, f"sqlite:///{tmp_path / 'source-db.sqlite'}")
    )
    public = ReporterActions(create_app(config).test_client())
    code = public.report(
        description="قناة تنشر دعاية كل يوم.",
        full_name="Amina B.",
        files=[(b"\x89PNG\r\n\x1a\n" + bytes(64), "capture.png")],
    )
    public.follow_up(code, "The channel moved.")
    public.report(description="Another channel, anonymous.")
    for url in _serve(create_sync_app(config)):
        session = requests.Session()
        session.auth = SyncSignature(unit_keys.sync)
        listing = session.get(f"{url}/sync/v1/submissions").json()["submissions"]
        assert len(listing) == 3
        yield SyncHost(url, listing)


def _signed_session(key: SigningKey) -> requests.Session:
    session = requests.Session()
    session.auth = SyncSignature(key)
    return session


def _run(
    schema: Any,
    url: str,
    session: requests.Session,
    mode: GenerationMode,
    seen: Counter[str],
    examples: int = EXAMPLES,
) -> None:
    """Every operation, ``examples`` generated cases each, each answer checked."""
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url=url, session=session, checks=CHECKS)
            seen[f"{case.method} {case.operation.path} {response.status_code}"] += 1

        check()


def test_signed_requests_get_no_server_error_and_answers_match_the_description(
    sync_host: SyncHost, unit_keys: UnitKeys
) -> None:
    schema = schemathesis.openapi.from_path(str(SPEC))
    session = _signed_session(unit_keys.sync)
    seen: Counter[str] = Counter()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        _run(schema, sync_host.url, session, mode, seen)
    # Past authentication: generated requests reached the endpoints' own answers.
    assert seen["GET /sync/v1/submissions 200"] > 0, seen
    assert seen["GET /sync/v1/recipient-set 200"] > 0, seen
    assert seen["POST /sync/v1/ack 200"] > 0, seen
    assert not any(key.endswith(" 500") for key in seen), seen


def test_real_blobs_replies_anchors_and_acks_match_the_description(
    sync_host: SyncHost, unit_keys: UnitKeys
) -> None:
    """What random ids never reach: the success answers, checked against the description
    (a real transparency page too)."""
    schema = schemathesis.openapi.from_path(str(SPEC))
    session = _signed_session(unit_keys.sync)
    url = sync_host.url

    def call(path: str, method: str, **case: Any) -> int:
        built = schema[path][method].Case(**case)
        response = built.call_and_validate(base_url=url, session=session, checks=CHECKS)
        status: int = response.status_code
        return status

    blob_path = "/sync/v1/submissions/{submission_id}/blobs/{name}"
    for item in sync_host.listing:
        for blob in item["blobs"]:
            names = {"submission_id": item["id"], "name": blob["name"]}
            assert call(blob_path, "GET", path_parameters=names) == 200

    item = sync_host.listing[0]
    reply = seal_bytes(
        json.dumps({"v": 1, "sent_at": "2026-12-05T10:00:00Z", "status": "received"}).encode(),
        [PublicKey(b64decode(item["reporter_public_key"]))],
        EnvelopeMetadata(kind="reply", content_type="application/json"),
    )
    reply_ids = {"reporter_id": item["reporter_id"], "reply_id": secrets.token_hex(16)}
    reply_path = "/sync/v1/reporters/{reporter_id}/replies/{reply_id}"
    assert call(reply_path, "POST", path_parameters=reply_ids, body=reply) == 201
    assert call(reply_path, "POST", path_parameters=reply_ids, body=reply) == 200

    assert call("/sync/v1/audit-anchors/latest", "GET") == 404
    anchor = json.loads(
        sign_checkpoint(Checkpoint(3, "ab" * 32, "2026-12-05T10:00:00Z"), unit_keys.sync)
    )
    assert call("/sync/v1/audit-anchors", "POST", body=anchor) == 201
    assert call("/sync/v1/audit-anchors", "POST", body=anchor) == 200
    assert call("/sync/v1/audit-anchors/latest", "GET") == 200
    rewritten = json.loads(
        sign_checkpoint(Checkpoint(3, "cd" * 32, "2026-12-05T10:00:00Z"), unit_keys.sync)
    )
    assert call("/sync/v1/audit-anchors", "POST", body=rewritten) == 409

    page = b'<!doctype html><html lang="en"><title>Transparency report</title><h1>2026-Q3</h1>'
    page_path = "/sync/v1/transparency/{name}"
    names = {"name": "2026-Q3.en.html"}
    assert call(page_path, "PUT", path_parameters=names, body=page) == 201
    assert call(page_path, "PUT", path_parameters=names, body=page) == 200
    scripted = page + b"<script>alert(1)</script>"
    assert call(page_path, "PUT", path_parameters=names, body=scripted) == 400

    ids = [entry["id"] for entry in sync_host.listing]
    assert call("/sync/v1/submissions", "GET", query={"after": ids[0], "limit": 1}) == 200
    assert call("/sync/v1/ack", "POST", body={"ids": ids}) == 200
    assert session.get(f"{url}/sync/v1/submissions").json() == {"submissions": []}


def test_unsigned_requests_get_only_401(sync_host: SyncHost, unit_keys: UnitKeys) -> None:
    schema = schemathesis.openapi.from_path(str(SPEC))
    seen: Counter[str] = Counter()
    session = requests.Session()
    # Authentication comes before anything else looks at the request: fewer suffice.
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        _run(schema, sync_host.url, session, mode, seen, max(1, EXAMPLES // 2))
    statuses = {key.rsplit(" ", 1)[1] for key in seen}
    # 400 encoded_path comes before the signature (a negative case's escaped path).
    assert statuses <= {"401", "400"}, seen
    assert "401" in statuses
    # Nothing was deleted by an unsigned ack.
    answer = _signed_session(unit_keys.sync).get(f"{sync_host.url}/sync/v1/submissions")
    assert len(answer.json()["submissions"]) == 3
