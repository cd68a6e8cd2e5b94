"""A refused submission never blocks newer ones (issue 8): skipped, recorded, shown to an admin.

The pull reads oldest first. Before, a submission the officer host refused was left at
the head of the queue, and a page full of them stopped every newer report from arriving.
Now the pull lists past each refused one (``after=<id>``), records why it was refused,
and the CLI summary and the admin area say so.
"""

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.sync_api import MAX_ATTACHMENTS
from journalist_app.config import OfficerConfig
from journalist_app.keys.custody import unlock
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import RefusedSubmission, Report
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import IngestLimits, SyncEvent, pull, run_sync
from tests.journalist_app.conftest import AuthActions, Mailbox, StoredSubmission, Unit

OVER_THE_CEILING = {"body": b"b"} | {f"attachment-{n}": b"a" for n in range(1, MAX_ATTACHMENTS + 2)}


@pytest.fixture
def keyring(unit: Unit, db: Session, config: OfficerConfig) -> UnlockedKeyring:
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


def _refused(db: Session) -> dict[str, RefusedSubmission]:
    return {row.submission_id: row for row in db.scalars(select(RefusedSubmission))}


def _listings(mailbox: Mailbox) -> list[str]:
    return [path for _, path, _ in mailbox.requests if path.endswith("/submissions")]


def test_more_refused_submissions_than_a_page_holds_do_not_stall_the_newer_report(
    db: Session, synced_config: OfficerConfig, keyring: UnlockedKeyring, mailbox: Mailbox
) -> None:
    # Seven refused at the head of the queue, pages of three: two full pages of them.
    refused = [mailbox.add(OVER_THE_CEILING) for _ in range(7)]
    newer = mailbox.add({"body": b"the newer report"})
    assert keyring.sync_key is not None
    client = SyncClient(mailbox.url, keyring.sync_key)
    store = LocalBlobStore(synced_config.data_dir)
    events: list[SyncEvent] = []

    result = pull(db, client, store, events.append, batch_size=3)

    assert db.get(Report, newer.id) is not None
    assert (result.new, result.failed, result.acknowledged) == (1, 7, 1)
    assert list(mailbox.submissions) == [s.id for s in refused], "refused ones stay, unacked"
    rows = _refused(db)
    assert set(rows) == {s.id for s in refused}
    assert {row.reason for row in rows.values()} == {"too_many_attachments"}
    assert all(row.times == 1 and row.source == "sync" for row in rows.values())
    assert len(_listings(mailbox)) >= 3, "the pull listed page after page"

    # The next sync skips past them again, and counts the refusal again.
    again = pull(db, client, store, batch_size=3)
    assert (again.new, again.failed) == (0, 7)
    assert {row.times for row in _refused(db).values()} == {2}


def test_submissions_over_this_hosts_own_limit_do_not_stall_the_newer_report_either(
    db: Session, synced_config: OfficerConfig, keyring: UnlockedKeyring, mailbox: Mailbox
) -> None:
    big = [mailbox.add({"body": b"x" * 2048}) for _ in range(5)]
    small = mailbox.add({"body": b"x"})
    assert keyring.sync_key is not None
    result = pull(
        db,
        SyncClient(mailbox.url, keyring.sync_key),
        LocalBlobStore(synced_config.data_dir),
        batch_size=2,
        limits=IngestLimits(max_blob_bytes=1024),
    )
    assert db.get(Report, small.id) is not None
    assert (result.new, result.failed) == (1, 5)
    assert {row.reason for row in _refused(db).values()} == {"blob_too_large"}
    assert set(_refused(db)) == {s.id for s in big}


def test_a_refusal_is_forgotten_once_a_later_sync_stores_the_submission(
    db: Session, config: OfficerConfig, keyring: UnlockedKeyring, mailbox: Mailbox
) -> None:
    from tests.journalist_app.test_officer_sync_limits import _config

    big = mailbox.add({"body": b"x" * 2048})
    strict = _config(config.data_dir, mailbox.url, IBLAGH_SYNC_MAX_BLOB_BYTES="1024")
    first = run_sync(db, strict, keyring)
    assert first.refused_waiting == 1 and big.id in _refused(db)

    second = run_sync(db, _config(config.data_dir, mailbox.url), keyring)
    assert second.new == 1 and second.refused_waiting == 0
    assert _refused(db) == {} and db.get(Report, big.id) is not None


def test_the_sync_summary_says_how_many_refused_submissions_wait_and_where_to_look(
    db: Session, synced_config: OfficerConfig, keyring: UnlockedKeyring, mailbox: Mailbox
) -> None:
    mailbox.add(OVER_THE_CEILING)
    mailbox.add(OVER_THE_CEILING)
    mailbox.add({"body": b"fine"})
    result = run_sync(db, synced_config, keyring)
    summary = result.summary()
    assert summary.startswith("synced: 1 new")
    assert "2 refused submissions left on the public host" in summary
    assert "Refused submissions" in summary
    quiet = run_sync(db, synced_config, keyring)
    assert "refused" in quiet.summary(), "still waiting: still said"


def test_the_cli_sync_prints_the_refused_line(
    db: Session, synced_config: OfficerConfig, unit: Unit, mailbox: Mailbox, capsys: Any
) -> None:
    import os
    from unittest import mock

    from journalist_app.cli.main import main

    mailbox.add(OVER_THE_CEILING)
    mailbox.add({"body": b"fine"})
    env = {
        "IBLAGH_DATA_DIR": str(synced_config.data_dir),
        "IBLAGH_DATABASE_URL": synced_config.database_url,
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_SYNC_URL": mailbox.url,
        "IBLAGH_SYNC_CHECK_ENVELOPES": "0",
        "IBLAGH_OFFICER_PASSPHRASE": unit.passphrase,
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IBLAGH_")}
    with mock.patch.dict(os.environ, {**clean, **env}, clear=True):
        code = main(["sync", "--officer", unit.username])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 refused submission left on the public host" in out


def test_an_admin_sees_the_refused_submissions_and_why(
    client: FlaskClient,
    auth: AuthActions,
    db: Session,
    synced_config: OfficerConfig,
    keyring: UnlockedKeyring,
    mailbox: Mailbox,
    make_officer: Any,
) -> None:
    crowded: StoredSubmission = mailbox.add(OVER_THE_CEILING)
    run_sync(db, synced_config, keyring)
    admin = make_officer("admin")
    client.get("/login?lang=en")
    auth.login(admin.username, admin.passphrase)
    accounts = client.get("/admin/officers").get_data(as_text=True)
    assert 'href="/admin/refused-submissions"' in accounts
    page = client.get("/admin/refused-submissions")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert crowded.id in html and "too_many_attachments" in html
    assert re.search(r"<td>1</td>", html), "refused once"
    auth.logout()
    analyst = make_officer("analyst")
    auth.login(analyst.username, analyst.passphrase)
    assert client.get("/admin/refused-submissions").status_code == 403


def test_nothing_refused_says_so(
    client: FlaskClient, auth: AuthActions, db: Session, make_officer: Any
) -> None:
    admin = make_officer("admin")
    client.get("/login?lang=en")
    auth.login(admin.username, admin.passphrase)
    html = client.get("/admin/refused-submissions").get_data(as_text=True)
    assert "No submission has been refused." in html
    assert (db.scalar(select(func.count()).select_from(RefusedSubmission)) or 0) == 0
