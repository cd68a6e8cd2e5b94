"""After a purge, the reporter's page says the report's handling has ended (issue 14, 5).

The notice is sealed in the purge's transaction, while the reporter's key is known, and
leaves with the next sync like a reply; nothing else of the case stays behind.
"""

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crypto.envelope import open_bytes
from journalist_app import clock
from journalist_app.keys.custody import unlock
from journalist_app.models import Case, EndedNotice, Report, ReportTriage
from journalist_app.retention.purge import purge_due
from journalist_app.retention.rules import load_rules
from journalist_app.sync.pull import run_sync
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import change_status
from tests.support.triage import make_world


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def _documents(mailbox, submission) -> list[dict]:
    return [
        json.loads(open_bytes(envelope, [submission.reporter_key])[1])
        for envelope in mailbox.replies.get(submission.reporter_id, {}).values()
    ]


def _close(db, keyring, submission) -> int:
    case_id = db.get(ReportTriage, submission.id).case_id
    change_status(db, keyring, case_id, "triaged")
    change_status(db, keyring, case_id, "closed", "not_illegal")
    return case_id


def test_a_purged_reporter_reads_handling_ended_after_the_next_sync(
    mailbox, db, synced_config, keyring, monkeypatch
) -> None:
    submission = mailbox.add_report({"v": 1, "category": "fraud"})
    run_sync(db, synced_config, keyring)
    case_id = _close(db, keyring, submission)
    run_sync(db, synced_config, keyring)
    assert [d["status"] for d in _documents(mailbox, submission)] == ["under_review", "closed"]

    later = db.get(Case, case_id).updated_at + timedelta(days=31)
    monkeypatch.setattr(clock, "source", lambda: later)
    result = purge_due(db, keyring, synced_config.data_dir, load_rules(), now=later)
    assert (result.cases, result.notices) == (1, 1)
    assert db.get(Case, case_id) is None
    [notice] = db.scalars(select(EndedNotice)).all()
    assert notice.reporter_id == submission.reporter_id

    pushed = run_sync(db, synced_config, keyring)
    assert pushed.replies_pushed == 1
    assert _documents(mailbox, submission)[-1]["status"] == "ended"
    # Pushed, then gone: nothing of the case is left on this host.
    assert db.scalar(select(func.count()).select_from(EndedNotice)) == 0


def test_a_reporter_with_a_report_still_kept_is_not_told_it_ended(
    tmp_path, officer_database_url: str
) -> None:
    for world in make_world(tmp_path, officer_database_url or None):
        first = world.add_report({"category": "fraud", "urls": ["https://a.example/1"]})
        alone = world.add_report({"category": "fraud", "urls": ["https://b.example/2"]})
        index_pending(world.session, world.store, world.supervisor)
        closed = []
        for report_id in (first, alone):
            case_id = world.session.get(ReportTriage, report_id).case_id
            change_status(world.session, world.supervisor, case_id, "triaged")
            change_status(world.session, world.supervisor, case_id, "closed", "not_illegal")
            closed.append(case_id)
        # The first reporter reports again after closure: a new case, still open.
        reporter = world.session.get(Report, first).reporter_id
        again = world.add_report({"category": "hate"}, reporter_id=reporter)
        index_pending(world.session, world.store, world.supervisor)
        assert world.session.get(ReportTriage, again).case_id not in closed

        alone_reporter = world.session.get(Report, alone).reporter_id
        later = max(world.session.get(Case, c).updated_at for c in closed) + timedelta(days=31)
        result = purge_due(
            world.session, world.supervisor, world.config.data_dir, load_rules(), now=later
        )
        assert (result.cases, result.notices) == (2, 1)
        [notice] = world.session.scalars(select(EndedNotice)).all()
        # Only the reporter with nothing left kept is told.
        assert notice.reporter_id == alone_reporter
        document = json.loads(open_bytes(notice.envelope, [world.reporter_keys[alone]])[1])
        assert document["status"] == "ended"
