import json

import pytest
from sqlalchemy import select

from crypto.envelope import open_bytes
from journalist_app.keys.custody import unlock
from journalist_app.models import Case, ReportTriage, ReportUrl
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import run_sync, store_submission
from journalist_app.triage.cases import open_case
from journalist_app.triage.workflow import change_status
from tests.conftest import BOTH_ENGINES
from tests.support.engines import stored_bytes

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

URL = "https://example.org/propaganda/1"


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def test_a_sync_indexes_and_groups_what_it_brings(mailbox, db, synced_config, keyring) -> None:
    first = mailbox.add_report({"v": 1, "category": "terrorism", "urls": [URL]})
    second = mailbox.add_report({"v": 1, "category": "hate", "urls": [URL.upper()[:8] + URL[8:]]})
    alone = mailbox.add_report({"v": 1, "category": "fraud", "description": "secret text"})

    run_sync(db, synced_config, keyring)

    triage = {t.report_id: t for t in db.scalars(select(ReportTriage))}
    assert {t.state for t in triage.values()} == {"indexed"}
    assert triage[first.id].case_id == triage[second.id].case_id != triage[alone.id].case_id
    case = db.get(Case, triage[first.id].case_id)
    assert (case.category, case.priority, case.report_count) == ("terrorism", 1, 2)
    assert db.scalar(select(ReportUrl.normalised).limit(1)) == "example.org/propaganda/1"
    # What is kept in the clear: category, addresses, hashes; never the description.
    database = stored_bytes(db.get_bind(), synced_config.data_dir)
    assert b"secret text" not in database and b"secret text".hex().encode() not in database


def test_the_reporters_status_leaves_with_the_next_sync(mailbox, db, synced_config, keyring):
    submission = mailbox.add_report({"v": 1, "category": "fraud"})
    run_sync(db, synced_config, keyring)
    case_id = db.get(ReportTriage, submission.id).case_id

    change_status(db, keyring, case_id, "triaged")
    change_status(db, keyring, case_id, "closed", "not_illegal")
    result = run_sync(db, synced_config, keyring)

    assert result.replies_pushed == 2
    documents = [
        json.loads(open_bytes(envelope, [submission.reporter_key])[1])
        for envelope in mailbox.replies[submission.reporter_id].values()
    ]
    assert sorted((d["status"], d["reason"]) for d in documents) == [
        ("closed", "not_illegal"),
        ("under_review", None),
    ]


def test_a_report_stored_without_a_keyring_is_queued_urgent_then_indexed_on_opening(
    mailbox, db, synced_config, keyring
) -> None:
    submission = mailbox.add_report({"v": 1, "category": "other"})
    client = SyncClient(mailbox.url, keyring.sync_key)
    store = LocalBlobStore(synced_config.data_dir)
    [listed] = client.list_submissions()

    # The air-gap import's step: no keyring at hand.
    store_submission(db, store, listed, lambda blob, dst: client.fetch_blob(listed.id, blob, dst))

    triage = db.get(ReportTriage, submission.id)
    case = db.get(Case, triage.case_id)
    assert (triage.state, case.priority, case.unread_count) == ("pending", 1, 1)

    view = open_case(db, store, keyring, case.id)

    assert db.get(ReportTriage, submission.id).state == "indexed"
    assert (view.case.priority, view.case.category) == (4, "other")
