"""Replies go to the reporter key sealed in the body, never to a key the public host swapped.

A compromised public host can list its own key beside a real report; the body, sealed by
the reporter's side, still names the reporter's. The officer host compares the two when
it indexes the report and refuses to seal a reply on a mismatch (docs/threat-model.md).
"""

import json
from datetime import datetime

import pytest
from nacl.public import PrivateKey
from sqlalchemy import select

from crypto.contents import encode_reporter_key
from crypto.envelope import open_bytes
from journalist_app import audit
from journalist_app.errors import ReporterKeyMismatch, ReporterKeyUnchecked
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, Reply, ReportTriage
from journalist_app.reports.replies import queue_reply
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import pull, run_sync
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import change_status
from tests.journalist_app.conftest import Mailbox, StoredSubmission, seal_report
from tests.support.triage import make_world


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def report_sealing(mailbox: Mailbox, sealed_key: bytes | None = None) -> StoredSubmission:
    """A report whose body names ``sealed_key`` (default: the key its listing shows)."""
    submission = mailbox.add({})
    if sealed_key is None:
        sealed_key = bytes(submission.reporter_key.public_key)
    body = {
        "v": 1,
        "category": "terrorism",
        "urls": ["https://example.org/p/1"],
        "description": "x",
        "reporter_public_key": encode_reporter_key(sealed_key),
    }
    submission.blobs["body"] = seal_report(mailbox.recipient_set, body)
    return submission


def test_a_reply_is_sealed_to_the_key_the_body_names(mailbox, db, synced_config, keyring) -> None:
    submission = report_sealing(mailbox)
    run_sync(db, synced_config, keyring)
    triage = db.get(ReportTriage, submission.id)
    assert triage.state == "indexed" and not triage.reporter_key_mismatch
    assert triage.reporter_key == bytes(submission.reporter_key.public_key)

    reply = queue_reply(db, submission.id, status="under_review", message="Merci")

    _, content = open_bytes(reply.envelope, [submission.reporter_key])
    assert json.loads(content)["message"] == "Merci"


def test_a_swapped_listed_key_is_flagged_and_no_reply_is_sealed(
    mailbox, db, synced_config, keyring
) -> None:
    reporter = PrivateKey.generate()
    # The public host lists its own key (the submission's) beside the reporter's body.
    swapped = report_sealing(mailbox, bytes(reporter.public_key))
    result = run_sync(db, synced_config, keyring)
    assert result.new == 1

    triage = db.get(ReportTriage, swapped.id)
    assert triage.state == "indexed" and triage.reporter_key_mismatch
    assert triage.reporter_key == bytes(reporter.public_key)
    entries = db.scalars(
        select(AuditEntry).where(AuditEntry.action == audit.Action.REPORTER_KEY_MISMATCH)
    ).all()
    assert [entry.target for entry in entries] == [audit.report_target(swapped.id)]

    with pytest.raises(ReporterKeyMismatch, match="other than the one sealed"):
        queue_reply(db, swapped.id, status="under_review", message="Merci")
    db.rollback()
    assert db.scalars(select(Reply)).all() == []


def test_no_reply_is_sealed_before_the_body_is_read(mailbox, db, synced_config, keyring) -> None:
    submission = mailbox.add_report({"v": 1, "category": "terrorism", "urls": []})
    client = SyncClient(mailbox.url, keyring.sync_key)
    pull(db, client, LocalBlobStore(synced_config.data_dir))
    assert db.get(ReportTriage, submission.id).state == "pending"

    with pytest.raises(ReporterKeyUnchecked):
        queue_reply(db, submission.id, status="received")


def test_a_status_change_tells_only_the_reporters_whose_key_checks_out(
    tmp_path, officer_database_url: str
) -> None:
    for world in make_world(tmp_path, officer_database_url or None):
        url = "https://example.org/viral"
        honest = world.add_report({"category": "hate", "urls": [url]})
        swapped = world.add_report(
            {
                "category": "hate",
                "urls": [url],
                "reporter_public_key": encode_reporter_key(bytes(PrivateKey.generate().public_key)),
            }
        )
        index_pending(world.session, world.store, world.supervisor)
        case_id = world.session.get(ReportTriage, honest).case_id
        assert world.session.get(ReportTriage, swapped).case_id == case_id
        assert world.session.get(ReportTriage, swapped).reporter_key_mismatch

        change_status(world.session, world.analyst, case_id, "triaged", None, datetime(2026, 12, 1))

        assert [r["status"] for r in world.replies_to(honest)] == ["under_review"]
        assert world.replies_to(swapped) == []
