"""Fixtures for the officer app: a fresh data dir per test, real crypto, real SQLite.

The public host's sync listener is played by ``Mailbox``, a small WSGI app served on
127.0.0.1 that follows docs/sync-api.md and checks every request's signature with
``crypto.sync_auth.verify_request``. End-to-end tests against the real source_app live
in tests/test_end_to_end.py.
"""

import hashlib
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from flask import Flask
from flask.testing import FlaskClient
from nacl.public import PrivateKey
from nacl.signing import VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.audit_anchor import verify_checkpoint
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.errors import ReplayedRequest, SignatureError
from crypto.recipients import RecipientSet, verify_recipient_set
from crypto.sync_api import (
    ACK_PATH,
    AUDIT_ANCHOR_LATEST_PATH,
    AUDIT_ANCHORS_PATH,
    DEFAULT_LIST_LIMIT,
    ID,
    RECIPIENT_SET_PATH,
    SUBMISSIONS_PATH,
    ListedBlob,
    ListedSubmission,
    listing_item,
)
from crypto.sync_auth import verify_request
from journalist_app import clock, create_app
from journalist_app.accounts.totp import (
    STEP_SECONDS,
    load_or_create_totp_key,
    next_usable_code,
    open_secret,
)
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.custody import (
    InitResult,
    held_secrets,
    init_unit_keys,
    new_officer,
    unlock,
)
from journalist_app.models import Officer
from journalist_app.roles import Role
from journalist_app.views.context import EXTENSION

# The first officer, made by `keys init`: a supervisor holding every unit secret.
OFFICER = "alice"
PASSPHRASE = "a long enough passphrase of the first officer"


def make_config(
    data_dir: Path, sync_url: str = "http://127.0.0.1:9", database_url: str = ""
) -> OfficerConfig:
    # The stand-in host serves hand-made bytes in many tests, so these configs turn the
    # envelope check off; it is on by default, and the tests against the real public host
    # (tests/test_end_to_end.py, test_sync_killed.py) and test_officer_sync_limits.py run it.
    return OfficerConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(data_dir),
            "IBLAGH_KDF": "fast",
            "IBLAGH_TESTING": "1",
            "IBLAGH_SYNC_URL": sync_url,
            "IBLAGH_SYNC_CHECK_ENVELOPES": "0",
            "IBLAGH_DATABASE_URL": database_url,
        }
    )


@pytest.fixture
def config(tmp_path: Path, officer_database_url: str) -> OfficerConfig:
    """SQLite in the data dir; PostgreSQL too in modules that run on both engines."""
    return make_config(tmp_path / "officer", database_url=officer_database_url)


@pytest.fixture
def db(config: OfficerConfig) -> Iterator[Session]:
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    create_schema(engine)
    session = make_session_factory(engine)()
    yield session
    session.close()
    engine.dispose()


@dataclass(frozen=True)
class Unit:
    """A unit whose keys were made by ``init_unit_keys``, with its first officer."""

    init: InitResult
    recipient_set: RecipientSet
    username: str = OFFICER
    passphrase: str = PASSPHRASE

    @property
    def recovery_key(self) -> PrivateKey:
        return PrivateKey(self.init.recovery_secret)

    @property
    def totp_secret(self) -> str:
        assert self.init.totp is not None
        return self.init.totp.secret


@pytest.fixture
def unit(db: Session, config: OfficerConfig) -> Unit:
    result = init_unit_keys(
        db,
        OFFICER,
        PASSPHRASE,
        config.wrap_params,
        totp_key=load_or_create_totp_key(config.ensure_data_dir()),
    )
    recipient_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(result.unit_verify_key)
    )
    return Unit(init=result, recipient_set=recipient_set)


def seal_report(recipient_set: RecipientSet, body: dict[str, Any], kind: str = "report") -> bytes:
    """A body envelope as the reporter's browser or the public host would make it."""
    return seal_bytes(
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
        recipient_set.public_keys(),
        EnvelopeMetadata(kind=kind, content_type="application/json"),
    )


def seal_identity(recipient_set: RecipientSet, full_name: str) -> bytes:
    """An identity section as the public host seals it: to the identity keys and recovery."""
    return seal_bytes(
        json.dumps({"v": 1, "full_name": full_name}).encode("utf-8"),
        recipient_set.identity_public_keys(),
        EnvelopeMetadata(kind="identity", content_type="application/json"),
    )


# --- the public host's sync listener, played in-process -----------------------------------


@dataclass
class StoredSubmission:
    id: str
    kind: str
    reporter_id: str
    reporter_key: PrivateKey
    received_hour: str
    blobs: dict[str, bytes]
    # The key the listing shows, when a test lists one of its own (a vector's).
    listed_reporter_key: bytes | None = None


@dataclass
class Mailbox:
    """Sync API v1 as docs/sync-api.md describes it, holding everything in memory.

    Its listing is written by the contract's builder (crypto/sync_api.py), as the real
    public host's is; it holds whatever it is given, blob names the contract refuses
    included, to play a public host the officer must refuse.
    """

    recipient_set: RecipientSet
    submissions: dict[str, StoredSubmission] = field(default_factory=dict)
    replies: dict[str, dict[str, bytes]] = field(default_factory=dict)
    nonces: set[str] = field(default_factory=set)
    corrupted: set[tuple[str, str]] = field(default_factory=set)
    fail_acks: bool = False
    requests: list[tuple[str, str, int]] = field(default_factory=list)
    url: str = ""
    # Blobs sent one byte every ``trickle_seconds`` (a slow or hostile host), until removed.
    trickled: set[tuple[str, str]] = field(default_factory=set)
    trickle_seconds: float = 0.2
    # What GET /sync/v1/recipient-set answers, as installed; b"": 404 (an older host).
    signed_recipient_set: bytes = b""
    # Audit anchors kept write-once, by the count of entries they cover.
    audit_anchors: dict[int, bytes] = field(default_factory=dict)

    def add(
        self,
        blobs: dict[str, bytes],
        kind: str = "report",
        received_hour: str = "2026-11-28T18:00:00Z",
    ) -> StoredSubmission:
        reporter_key = PrivateKey.generate()
        submission = StoredSubmission(
            id=secrets.token_hex(16),
            kind=kind,
            reporter_id=secrets.token_hex(16),
            reporter_key=reporter_key,
            received_hour=received_hour,
            blobs=blobs,
        )
        self.submissions[submission.id] = submission
        self.replies.setdefault(submission.reporter_id, {})
        return submission

    def add_report(self, body: dict[str, Any], **kwargs: Any) -> StoredSubmission:
        return self.add({"body": seal_report(self.recipient_set, body)}, **kwargs)

    # WSGI
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, payload, content_type = self._answer(environ)
        self.requests.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], status))
        reason = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized"}
        start_response(
            f"{status} {reason.get(status, 'Error')}",
            [("Content-Type", content_type), ("Content-Length", str(len(payload)))],
        )
        blob = re.search(r"/submissions/([0-9a-f]{32})/blobs/([a-z0-9-]+)$", environ["PATH_INFO"])
        if status == 200 and blob and (blob.group(1), blob.group(2)) in self.trickled:
            return self._trickle((blob.group(1), blob.group(2)), payload)
        return [payload]

    def _trickle(self, key: tuple[str, str], payload: bytes) -> Iterator[bytes]:
        for offset in range(len(payload)):
            if key not in self.trickled:
                yield payload[offset:]
                return
            yield payload[offset : offset + 1]
            time.sleep(self.trickle_seconds)

    def _answer(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        query = environ.get("QUERY_STRING", "")
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            name: environ.get("HTTP_" + name.upper().replace("-", "_"), "")
            for name in (
                "X-Iblagh-Timestamp",
                "X-Iblagh-Nonce",
                "X-Iblagh-Key-Id",
                "X-Iblagh-Signature",
            )
        }
        headers = {name: value for name, value in headers.items() if value}
        try:
            verified = verify_request(
                [VerifyKey(k) for k in self.recipient_set.sync_verify_keys],
                method,
                path + (f"?{query}" if query else ""),
                hashlib.sha256(body).digest(),
                headers,
            )
            if verified.nonce in self.nonces:
                raise ReplayedRequest("nonce seen")
            self.nonces.add(verified.nonce)
        except ReplayedRequest:
            return _error(401, "replayed")
        except SignatureError as exc:
            code = "unsigned" if "not signed" in str(exc) else "bad_signature"
            return _error(401, code)
        return self._route(method, path, urllib.parse.parse_qs(query), body, environ)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, environ: Any
    ) -> tuple[int, bytes, str]:
        if method == "GET" and path == SUBMISSIONS_PATH:
            limit = int(query.get("limit", [str(DEFAULT_LIST_LIMIT)])[0])
            queue = list(self.submissions.values())
            after = query.get("after", [None])[0]
            ids = [submission.id for submission in queue]
            # As the public host: listed after that one; an id it no longer holds, from the oldest.
            if after in ids:
                queue = queue[ids.index(after) + 1 :]
            listed = [self._listing(s) for s in queue[:limit]]
            return _json(200, {"submissions": listed})
        blob = re.fullmatch(
            rf"{SUBMISSIONS_PATH}/({ID.pattern})/blobs/([a-z0-9-]+)",
            path,
        )
        if method == "GET" and blob:
            submission = self.submissions.get(blob.group(1))
            data = submission.blobs.get(blob.group(2)) if submission else None
            if data is None:
                return _error(404, "unknown")
            if (blob.group(1), blob.group(2)) in self.corrupted:
                data = data[:-1] + bytes([data[-1] ^ 1])
            return 200, data, "application/octet-stream"
        if method == "GET" and path == RECIPIENT_SET_PATH and self.signed_recipient_set:
            return 200, self.signed_recipient_set, "application/json"
        if method == "POST" and path == AUDIT_ANCHORS_PATH:
            keys = [VerifyKey(k) for k in self.recipient_set.sync_verify_keys]
            mark = verify_checkpoint(body, keys).checkpoint
            kept = self.audit_anchors.get(mark.count)
            rewritten = (
                kept is not None and verify_checkpoint(kept, keys).checkpoint.head != mark.head
            )
            if rewritten or mark.count < max(self.audit_anchors, default=0):
                return _error(409, "anchor_conflict")
            self.audit_anchors.setdefault(mark.count, body)
            return _json(200 if kept else 201, {"count": mark.count})
        if method == "GET" and path == AUDIT_ANCHOR_LATEST_PATH and self.audit_anchors:
            return 200, self.audit_anchors[max(self.audit_anchors)], "application/json"
        if method == "POST" and path == ACK_PATH:
            if self.fail_acks:
                return _error(500, "internal")
            ids = json.loads(body)["ids"]
            deleted = [i for i in ids if self.submissions.pop(i, None) is not None]
            return _json(200, {"deleted": deleted, "unknown": [i for i in ids if i not in deleted]})
        reply = re.fullmatch(r"/sync/v1/reporters/([0-9a-f]{32})/replies/([0-9a-f]{32})", path)
        if method == "POST" and reply:
            inbox = self.replies.get(reply.group(1))
            if inbox is None:
                return _error(404, "unknown")
            reply_id = reply.group(2)
            if reply_id in inbox:
                return _json(200, {"id": reply_id})
            inbox[reply_id] = body
            return _json(201, {"id": reply_id})
        return _error(404, "unknown")

    def _listing(self, submission: StoredSubmission) -> dict[str, Any]:
        return listing_item(
            ListedSubmission(
                id=submission.id,
                kind=submission.kind,
                reporter_id=submission.reporter_id,
                reporter_public_key=submission.listed_reporter_key
                or bytes(submission.reporter_key.public_key),
                received_hour=datetime.strptime(submission.received_hour, "%Y-%m-%dT%H:%M:%SZ"),
                blobs=tuple(
                    ListedBlob(name, len(data), hashlib.sha256(data).hexdigest())
                    for name, data in submission.blobs.items()
                ),
            )
        )


def _json(status: int, value: Any) -> tuple[int, bytes, str]:
    return status, json.dumps(value).encode("utf-8"), "application/json"


def _error(status: int, code: str) -> tuple[int, bytes, str]:
    return _json(status, {"error": code})


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def mailbox(unit: Unit) -> Iterator[Mailbox]:
    box = Mailbox(
        recipient_set=unit.recipient_set, signed_recipient_set=unit.init.signed_recipient_set
    )
    server: WSGIServer = make_server("127.0.0.1", 0, box, handler_class=_QuietHandler)
    box.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def synced_config(config: OfficerConfig, mailbox: Mailbox) -> OfficerConfig:
    """The test's config, pointed at the mailbox."""
    return make_config(config.data_dir, mailbox.url, config.database_url)


# --- the web app ----------------------------------------------------------------------------


@pytest.fixture
def app(synced_config: OfficerConfig, unit: Unit) -> Flask:
    return create_app(synced_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


class AuthActions:
    """Log in and out as an officer would, through the forms, CSRF token included.

    The TOTP code is what the officer's authenticator would show: computed from the
    stored secret, a step not used yet (each code works once).
    """

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(
        self, username: str = OFFICER, passphrase: str = PASSPHRASE, code: str | None = None
    ) -> Any:
        page = self._client.get("/login").get_data(as_text=True)
        return self._client.post(
            "/login",
            data={
                "username": username,
                "passphrase": passphrase,
                "code": self.code(username) if code is None else code,
                "csrf_token": csrf_token(page),
            },
        )

    def code(self, username: str) -> str:
        """A code ``username`` can log in with now ("000000" for an unknown account)."""
        state = self._client.application.extensions[EXTENSION]
        with state.session_factory() as session:
            officer = session.scalar(select(Officer).where(Officer.username == username))
            if officer is None or officer.totp_secret_sealed is None:
                return "000000"
            secret = open_secret(
                load_or_create_totp_key(state.config.data_dir), username, officer.totp_secret_sealed
            )
            while True:
                now = clock.utc_now().replace(tzinfo=UTC)
                code = next_usable_code(secret, now, officer.totp_last_step)
                if code is not None:
                    return code
                # Three logins in one 30-second step: wait for the next (real time only).
                time.sleep(STEP_SECONDS - now.timestamp() % STEP_SECONDS + 0.1)

    def logout(self) -> Any:
        page = self._client.get("/").get_data(as_text=True)
        return self._client.post("/logout", data={"csrf_token": csrf_token(page)})

    def sync(self) -> Any:
        return self._client.post("/sync", data={"csrf_token": self.csrf("/")})

    def csrf(self, path: str) -> str:
        """The CSRF token of the form on ``path``."""
        return csrf_token(self._client.get(path).get_data(as_text=True))


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@dataclass(frozen=True)
class OfficerLogin:
    username: str
    passphrase: str
    role: Role


@pytest.fixture
def make_officer(db: Session, config: OfficerConfig, unit: Unit) -> Callable[..., OfficerLogin]:
    """An officer of ``role`` with a second factor, granted what that role needs.

    ``make_officer("analyst")``; ``with_keys=False`` for an account still waiting for its
    grants. Made directly in the database, as an admin and a key holder would.
    """
    made: list[str] = []

    def make(
        role: str = Role.ANALYST.value, username: str | None = None, *, with_keys: bool = True
    ) -> OfficerLogin:
        chosen = Role(role)
        name = username or f"{chosen.value.replace('_', '-')}{len(made) + 1}"
        passphrase = f"the passphrase of officer number {len(made) + 1}"
        holder = unlock(db, unit.username, unit.passphrase, config.wrap_params)
        officer, _ = new_officer(
            name,
            passphrase,
            config.wrap_params,
            role=chosen,
            grants=held_secrets(holder, chosen) if with_keys else [],
            totp_key=load_or_create_totp_key(config.data_dir),
        )
        db.add(officer)
        db.commit()
        made.append(name)
        return OfficerLogin(name, passphrase, chosen)

    return make


@pytest.fixture
def auth_for() -> type[AuthActions]:
    """For a test that builds its own app: ``auth_for(client)``."""
    return AuthActions


@pytest.fixture
def unused_url() -> str:
    """A 127.0.0.1 URL nothing listens on (port bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def sealed_report(unit: Unit) -> Callable[..., bytes]:
    """Seal a report body to the unit's recipient set, as a reporter would."""

    def seal(body: dict[str, Any], kind: str = "report") -> bytes:
        return seal_report(unit.recipient_set, body, kind)

    return seal
