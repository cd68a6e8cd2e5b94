"""The officer host never trusts the public host (issue 4): limits of a sync run.

A compromised public host may list huge blobs, too many blobs, an endless stream of
submissions, envelopes sealed to someone else, or answer with terminal escapes. Each is
refused with a typed error, nothing refused is acknowledged (it stays on the public
host), and every message is safe to print.
"""

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from wsgiref.simple_server import make_server

import pytest
from nacl.public import PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import journalist_app.sync.blob_store as blob_store_module
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.sync_api import MAX_ATTACHMENTS
from journalist_app.config import ConfigError, OfficerConfig
from journalist_app.errors import SyncProtocolError, SyncRefused
from journalist_app.keys.custody import unlock
from journalist_app.models import Report
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import (
    BlobTooLarge,
    EnvelopeRejected,
    NotEnoughDiskSpace,
    SyncClient,
    TooManyBlobs,
    terminal_safe,
)
from journalist_app.sync.pull import IngestLimits, SyncEvent, pull, run_sync
from tests.journalist_app.conftest import Mailbox, Unit, _QuietHandler, seal_identity, seal_report

BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}
# ESC sequences (colour, window title, cursor), C1 CSI, BEL, DEL and bidi overrides.
HOSTILE = "\x1b[31mred\x1b]0;owned\x07\x9b2J\u202egnp.exe\u2066x\u2069\x7f" + "A" * 500
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _config(data_dir: Path, url: str, **env: str) -> OfficerConfig:
    return OfficerConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(data_dir),
            "IBLAGH_KDF": "fast",
            "IBLAGH_TESTING": "1",
            "IBLAGH_SYNC_URL": url,
            "IBLAGH_SYNC_CHECK_ENVELOPES": "0",
            **env,
        }
    )


def _assert_terminal_safe(text: str) -> None:
    assert not _UNSAFE.search(text), repr(text)


@contextmanager
def _serve(box: Mailbox) -> Iterator[Mailbox]:
    server = make_server("127.0.0.1", 0, box, handler_class=_QuietHandler)
    box.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class LyingMailbox(Mailbox):
    """Lists sizes other than the bytes it serves."""

    listed_size: int = 0

    def _listing(self, submission: Any) -> dict[str, Any]:
        listing = super()._listing(submission)
        for blob in listing["blobs"]:
            blob["size"] = self.listed_size
        return listing


@dataclass
class EndlessMailbox(Mailbox):
    """Every listing is a full page of brand-new submissions."""

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, environ: Any
    ) -> tuple[int, bytes, str]:
        if method == "GET" and path == "/sync/v1/submissions":
            limit = int(query.get("limit", ["100"])[0])
            self.submissions.clear()
            for _ in range(limit):
                self.add({"body": b"x"})
        return super()._route(method, path, query, body, environ)


@dataclass
class HostileErrorMailbox(Mailbox):
    """Answers every request with an error whose code is a terminal escape."""

    status: int = 401

    def _answer(self, environ: dict[str, Any]) -> tuple[int, bytes, str]:
        return self.status, json.dumps({"error": HOSTILE}).encode(), "application/json"


@pytest.fixture
def keyring(unit: Unit, db: Session, config: OfficerConfig) -> Any:
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def _reports(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(Report)) or 0


def _fetched_blobs(box: Mailbox) -> list[str]:
    return [path for method, path, _ in box.requests if "/blobs/" in path]


def _failed(events: list[SyncEvent]) -> list[SyncEvent]:
    return [event for event in events if event.kind == "failed"]


# --- text from the public host --------------------------------------------------------


def test_terminal_safe_drops_controls_and_bidi_and_truncates() -> None:
    cleaned = terminal_safe(HOSTILE)
    _assert_terminal_safe(cleaned)
    assert cleaned.startswith("[31mred]0;owned2Jgnp.exex")
    assert len(cleaned) == 200 and cleaned.endswith("…")
    assert terminal_safe("bad_signature") == "bad_signature"
    assert terminal_safe("مرحبا") == "مرحبا", "ordinary right-to-left text is kept"


@pytest.mark.parametrize("status", [401, 400, 500])
def test_an_escape_laden_error_code_reaches_no_message_raw(
    unit: Unit, keyring: Any, status: int
) -> None:
    with _serve(HostileErrorMailbox(recipient_set=unit.recipient_set, status=status)) as box:
        client = SyncClient(box.url, keyring.sync_key)
        with pytest.raises(SyncProtocolError if status != 401 else SyncRefused) as raised:
            client.list_submissions()
    message = str(raised.value)
    _assert_terminal_safe(message)
    assert len(message) < 400
    if isinstance(raised.value, SyncRefused):
        _assert_terminal_safe(raised.value.code)
        assert len(raised.value.code) <= 200
    else:
        assert "[31mred" in message


# --- caps on what a listing may ask this host to store -----------------------------------


def test_a_blob_listed_larger_than_the_cap_is_refused_unfetched_and_unacknowledged(
    unit: Unit, db: Session, config: OfficerConfig, keyring: Any
) -> None:
    # The default cap (600 MiB) against a listing that claims 10 GiB.
    box = LyingMailbox(recipient_set=unit.recipient_set, listed_size=10 * 1024**3)
    with _serve(box):
        submission = box.add_report(BODY)
        events: list[SyncEvent] = []
        result = run_sync(db, _config(config.data_dir, box.url), keyring, events.append)
    [failed] = _failed(events)
    assert isinstance(failed.error, BlobTooLarge)
    assert "IBLAGH_SYNC_MAX_BLOB_BYTES" in failed.detail and "left on the public host" in (
        failed.detail
    )
    assert (result.failed, result.acknowledged, result.new) == (1, 0, 0)
    assert list(box.submissions) == [submission.id]
    assert _fetched_blobs(box) == [] and _reports(db) == 0


def test_the_blob_size_cap_is_set_by_its_variable(
    unit: Unit, db: Session, config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    big = mailbox.add({"body": b"x" * 2048})
    small = mailbox.add({"body": b"x" * 100})
    events: list[SyncEvent] = []
    settings = _config(config.data_dir, mailbox.url, IBLAGH_SYNC_MAX_BLOB_BYTES="1024")
    result = run_sync(db, settings, keyring, events.append)
    [failed] = _failed(events)
    assert failed.id == big.id and isinstance(failed.error, BlobTooLarge)
    assert (result.new, result.failed, result.acknowledged) == (1, 1, 1)
    assert list(mailbox.submissions) == [big.id]
    assert db.get(Report, small.id) is not None and db.get(Report, big.id) is None


def _attachments(count: int) -> dict[str, bytes]:
    return {f"attachment-{n}": b"a" for n in range(1, count + 1)}


def test_a_submission_over_the_protocol_ceiling_is_refused_unfetched(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    crowded = mailbox.add({"body": b"b", "identity": b"i"} | _attachments(MAX_ATTACHMENTS + 1))
    # One attachment too many without an identity: within the blob count, still refused.
    no_identity = mailbox.add({"body": b"b"} | _attachments(MAX_ATTACHMENTS + 1))
    at_the_limit = mailbox.add({"body": b"b", "identity": b"i"} | _attachments(MAX_ATTACHMENTS))
    events: list[SyncEvent] = []
    result = run_sync(db, synced_config, keyring, events.append)
    failed = _failed(events)
    assert {event.id for event in failed} == {crowded.id, no_identity.id}
    assert all(isinstance(event.error, TooManyBlobs) for event in failed)
    assert f"{MAX_ATTACHMENTS + 3} blobs" in next(e.detail for e in failed if e.id == crowded.id)
    assert (result.new, result.failed, result.acknowledged) == (1, 2, 1)
    assert set(mailbox.submissions) == {crowded.id, no_identity.id}
    assert db.get(Report, at_the_limit.id) is not None
    assert not any(crowded.id in path or no_identity.id in path for path in _fetched_blobs(mailbox))


def test_more_attachments_than_the_public_hosts_default_setting_are_accepted(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    """The bug behind issue 8: the officer host hard-coded the public host's default (10)."""
    eleven = mailbox.add({"body": b"b"} | _attachments(11))
    result = run_sync(db, synced_config, keyring)
    assert (result.new, result.failed, result.acknowledged) == (1, 0, 1)
    assert db.get(Report, eleven.id) is not None and mailbox.submissions == {}


def test_an_endless_listing_stops_at_the_per_run_cap_and_says_more_are_waiting(
    unit: Unit, db: Session, config: OfficerConfig, keyring: Any
) -> None:
    with _serve(EndlessMailbox(recipient_set=unit.recipient_set)) as box:
        client = SyncClient(box.url, keyring.sync_key)
        store = LocalBlobStore(config.data_dir)
        result = pull(db, client, store, batch_size=2, limits=IngestLimits(max_per_run=5))
        listings = [path for _, path, _ in box.requests if path.endswith("/submissions")]
    assert (result.new, result.acknowledged, result.more_waiting) == (5, 5, True)
    assert len(listings) == 3
    assert _reports(db) == 5
    assert "more are waiting on the public host" in result.summary()
    assert "IBLAGH_SYNC_MAX_PER_RUN" in result.summary()


def test_the_per_run_cap_is_set_by_its_variable(
    unit: Unit, db: Session, config: OfficerConfig, keyring: Any
) -> None:
    with _serve(EndlessMailbox(recipient_set=unit.recipient_set)) as box:
        settings = _config(config.data_dir, box.url, IBLAGH_SYNC_MAX_PER_RUN="3")
        result = run_sync(db, settings, keyring)
        # The host listed 100; only the 3 stored were acknowledged.
        acked = [path for method, path, _ in box.requests if path == "/sync/v1/ack"]
    assert (result.new, result.acknowledged, result.more_waiting) == (3, 3, True)
    assert len(acked) == 1


def test_a_run_within_the_cap_does_not_claim_more_are_waiting(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    for _ in range(3):
        mailbox.add_report(BODY)
    client = SyncClient(mailbox.url, keyring.sync_key)
    store = LocalBlobStore(synced_config.data_dir)
    result = pull(db, client, store, batch_size=3, limits=IngestLimits(max_per_run=3))
    assert (result.new, result.more_waiting) == (3, False)
    assert "more are waiting" not in result.summary()


def test_a_listing_longer_than_asked_for_is_refused(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    for _ in range(3):
        mailbox.add_report(BODY)
    client = SyncClient(mailbox.url, keyring.sync_key)
    original = Mailbox._route

    def ignore_limit(self: Mailbox, method: str, path: str, query: Any, *rest: Any) -> Any:
        return original(self, method, path, {}, *rest)

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(Mailbox, "_route", ignore_limit)
        with pytest.raises(SyncProtocolError, match="more than the 2 asked for"):
            client.list_submissions(limit=2)


# --- free disk space ------------------------------------------------------------------


def test_no_blob_is_started_when_the_disk_would_drop_below_the_free_space_floor(
    db: Session, config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    submission = mailbox.add_report(BODY)
    settings = _config(config.data_dir, mailbox.url, IBLAGH_MIN_FREE_BYTES=str(10**18))
    with pytest.raises(NotEnoughDiskSpace) as raised:
        run_sync(db, settings, keyring)
    message = str(raised.value)
    assert "not enough free disk space" in message and "IBLAGH_MIN_FREE_BYTES" in message
    _assert_terminal_safe(message)
    assert list(mailbox.submissions) == [submission.id]
    assert _fetched_blobs(mailbox) == [] and _reports(db) == 0
    # Nothing acknowledged (the run's audit anchor may have been sent before the pull).
    assert not any(path == "/sync/v1/ack" for _, path, _ in mailbox.requests)


def test_what_was_stored_before_the_disk_filled_up_is_acknowledged(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox, monkeypatch: Any
) -> None:
    first = mailbox.add_report(BODY)
    second = mailbox.add_report(BODY)
    free = iter([10**12, 0])
    monkeypatch.setattr(
        blob_store_module.shutil, "disk_usage", lambda _path: type("U", (), {"free": next(free)})
    )
    with pytest.raises(NotEnoughDiskSpace):
        pull(db, SyncClient(mailbox.url, keyring.sync_key), LocalBlobStore(synced_config.data_dir))
    assert db.get(Report, first.id) is not None and db.get(Report, second.id) is None
    assert list(mailbox.submissions) == [second.id]


def test_the_limit_variables_are_checked(tmp_path: Path) -> None:
    defaults = _config(tmp_path, "http://127.0.0.1:9")
    assert defaults.sync_max_blob_bytes == 600 * 1024 * 1024
    assert defaults.sync_max_per_run == 5000
    assert defaults.min_free_bytes == 1024**3
    assert defaults.sync_check_envelopes is False  # _config turns it off, see above
    real_default = OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path)})
    assert real_default.sync_check_envelopes is True
    assert _config(tmp_path, "http://127.0.0.1:9", IBLAGH_MIN_FREE_BYTES="0").min_free_bytes == 0
    for name, value in [
        ("IBLAGH_SYNC_MAX_BLOB_BYTES", "0"),
        ("IBLAGH_SYNC_MAX_PER_RUN", "many"),
        ("IBLAGH_MIN_FREE_BYTES", "-1"),
        ("IBLAGH_SYNC_CHECK_ENVELOPES", "maybe"),
    ]:
        with pytest.raises(ConfigError, match=name):
            _config(tmp_path, "http://127.0.0.1:9", **{name: value})


# --- envelopes sealed to this unit only ----------------------------------------------------


def test_blobs_not_sealed_to_this_units_keys_are_not_acknowledged(
    unit: Unit, db: Session, config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    stranger = PrivateKey.generate().public_key
    foreign = seal_bytes(b"{}", [stranger], EnvelopeMetadata(kind="report"))
    # One of the unit's recipients and one stranger: still refused.
    mixed = seal_bytes(
        b"{}", [*unit.recipient_set.public_keys(), stranger], EnvelopeMetadata(kind="report")
    )
    good = mailbox.add(
        {
            "body": seal_report(unit.recipient_set, BODY),
            "identity": seal_identity(unit.recipient_set, "Name"),
        }
    )
    refused = {
        mailbox.add({"body": foreign}).id: "not this unit's intake or recovery keys",
        mailbox.add({"body": mixed}).id: "1 key(s)",
        mailbox.add({"body": b"garbage, not an envelope"}).id: "is not an envelope",
        # An identity section sealed to the intake keys: analysts could read who reported.
        mailbox.add(
            {
                "body": seal_report(unit.recipient_set, BODY),
                "identity": seal_report(unit.recipient_set, {"v": 1, "full_name": "N"}),
            }
        ).id: "identity or recovery keys",
    }
    events: list[SyncEvent] = []
    settings = _config(config.data_dir, mailbox.url, IBLAGH_SYNC_CHECK_ENVELOPES="1")
    result = run_sync(db, settings, keyring, events.append)

    failed = {event.id: event for event in _failed(events)}
    assert set(failed) == set(refused)
    for submission_id, wanted in refused.items():
        assert isinstance(failed[submission_id].error, EnvelopeRejected)
        assert wanted in failed[submission_id].detail
        assert db.get(Report, submission_id) is None
        assert list((config.data_dir / "blobs" / submission_id).glob("*")) == []
    assert (result.new, result.failed, result.acknowledged) == (1, 4, 1)
    assert set(mailbox.submissions) == set(refused)
    assert db.get(Report, good.id) is not None


def test_without_the_envelope_check_a_non_envelope_is_still_stored(
    db: Session, synced_config: OfficerConfig, keyring: Any, mailbox: Mailbox
) -> None:
    # The default, kept so an unreadable report is shown as such (test_officer_web_reports).
    submission = mailbox.add({"body": b"not an envelope"})
    result = run_sync(db, synced_config, keyring)
    assert (result.new, result.acknowledged) == (1, 1)
    assert db.get(Report, submission.id) is not None
