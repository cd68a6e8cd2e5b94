import dataclasses
import hashlib
import json
from datetime import datetime

import pytest
from nacl.signing import SigningKey
from sqlalchemy import func, select

from crypto.envelope import open_bytes
from journalist_app.errors import MissingKey, SyncProtocolError, SyncRefused, SyncUnreachable
from journalist_app.keys.custody import unlock
from journalist_app.models import Reply, Report, ReportBlob
from journalist_app.reports.replies import queue_reply
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import pull, run_sync
from tests.conftest import BOTH_ENGINES
from tests.journalist_app.conftest import seal_identity

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def test_pull_stores_each_blob_durably_then_acknowledges(
    mailbox, db, synced_config, keyring, sealed_report, unit
) -> None:
    first = mailbox.add_report(BODY, received_hour="2026-11-28T17:00:00Z")
    identity = seal_identity(unit.recipient_set, "Amina B.")
    second = mailbox.add({"body": sealed_report(BODY), "identity": identity})
    events = []

    result = run_sync(db, synced_config, keyring, progress=events.append)

    assert (result.new, result.already_stored, result.acknowledged, result.failed) == (2, 0, 2, 0)
    assert result.summary() == "synced: 2 new, 0 already stored, 2 acknowledged, 0 replies pushed"
    assert [e.kind for e in events] == ["stored", "stored"]
    assert mailbox.submissions == {}
    report = db.get(Report, second.id)
    assert report.reporter_id == second.reporter_id
    assert report.reporter_public_key == bytes(second.reporter_key.public_key)
    assert db.get(Report, first.id).received_hour == datetime(2026, 11, 28, 17)
    for blob in db.scalars(select(ReportBlob)):
        stored = (synced_config.data_dir / blob.path).read_bytes()
        assert hashlib.sha256(stored).hexdigest() == blob.sha256 and len(stored) == blob.size
    assert (synced_config.data_dir / f"blobs/{second.id}/identity").read_bytes() == identity
    # Acknowledged only after every blob was stored.
    methods = [(method, path.rsplit("/", 1)[-1]) for method, path, _ in mailbox.requests]
    assert methods[-1] == ("POST", "ack")


def test_an_interrupted_sync_resumes_without_duplicates(
    mailbox, db, synced_config, keyring
) -> None:
    submission = mailbox.add_report(BODY)
    mailbox.fail_acks = True
    with pytest.raises(SyncProtocolError):
        run_sync(db, synced_config, keyring)
    assert db.get(Report, submission.id) is not None, "stored before the acknowledgement"
    assert submission.id in mailbox.submissions

    mailbox.fail_acks = False
    result = run_sync(db, synced_config, keyring)

    assert (result.new, result.already_stored, result.acknowledged) == (0, 1, 1)
    assert mailbox.submissions == {}
    assert db.scalar(select(func.count()).select_from(Report)) == 1


def test_a_blob_that_does_not_match_its_listing_is_neither_stored_nor_acknowledged(
    mailbox, db, synced_config, keyring
) -> None:
    bad = mailbox.add_report(BODY)
    good = mailbox.add_report(BODY)
    mailbox.corrupted.add((bad.id, "body"))

    result = run_sync(db, synced_config, keyring)

    assert (result.new, result.failed, result.acknowledged) == (1, 1, 1)
    assert db.get(Report, bad.id) is None and db.get(Report, good.id) is not None
    assert list(mailbox.submissions) == [bad.id]
    assert list((synced_config.data_dir / "blobs" / bad.id).glob("*")) == []


def test_pull_pages_through_more_submissions_than_one_listing(
    mailbox, db, synced_config, keyring
) -> None:
    for _ in range(5):
        mailbox.add_report(BODY)
    client = SyncClient(mailbox.url, keyring.sync_key)
    result = pull(db, client, LocalBlobStore(synced_config.data_dir), batch_size=2)
    assert (result.new, result.acknowledged) == (5, 5)
    listings = [path for method, path, _ in mailbox.requests if path.endswith("/submissions")]
    assert len(listings) == 3


def test_replies_are_pushed_once_and_only_the_reporter_reads_them(
    mailbox, db, synced_config, keyring
) -> None:
    submission = mailbox.add_report(BODY)
    run_sync(db, synced_config, keyring)
    queue_reply(db, submission.id, status="under_review", message="Merci")

    first = run_sync(db, synced_config, keyring)
    second = run_sync(db, synced_config, keyring)

    assert (first.replies_pushed, second.replies_pushed) == (1, 0)
    [(reply_id, envelope)] = mailbox.replies[submission.reporter_id].items()
    assert db.get(Reply, reply_id).pushed_at is not None
    metadata, content = open_bytes(envelope, [submission.reporter_key])
    assert metadata.kind == "reply"
    document = json.loads(content)
    assert (document["v"], document["status"], document["message"]) == (1, "under_review", "Merci")
    assert document["reason"] is None


def test_a_sync_key_missing_from_the_recipient_set_is_refused(mailbox, db, synced_config) -> None:
    mailbox.add_report(BODY)
    client = SyncClient(mailbox.url, SigningKey.generate())
    with pytest.raises(SyncRefused, match=r"recipient-set\.json") as refused:
        pull(db, client, LocalBlobStore(synced_config.data_dir))
    assert refused.value.code == "bad_signature"
    assert db.scalar(select(func.count()).select_from(Report)) == 0


def test_an_unreachable_public_host_is_reported_as_such(db, config, keyring, unused_url) -> None:
    with pytest.raises(SyncUnreachable, match="cannot reach the public host"):
        run_sync(db, dataclasses.replace(config, sync_url=unused_url), keyring)


def test_an_officer_without_the_sync_key_cannot_sync(db, config, keyring) -> None:
    with pytest.raises(MissingKey):
        run_sync(db, config, dataclasses.replace(keyring, sync_key=None))
