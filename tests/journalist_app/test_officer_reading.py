import pytest
from nacl.public import PrivateKey

from journalist_app.errors import PermissionDenied, ReportNotFound, ReportUnreadable
from journalist_app.keys.custody import unlock
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.reports.reading import list_reports, parse_report_body, read_report
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.pull import run_sync


def test_a_report_decrypts_with_the_officers_intake_key(db, synced_config, unit, mailbox) -> None:
    body = {"v": 1, "category": "hate", "urls": ["https://e.example/1"], "description": "d"}
    submission = mailbox.add_report(body)
    keyring = unlock(db, unit.username, unit.passphrase, synced_config.wrap_params)
    run_sync(db, synced_config, keyring)
    store = LocalBlobStore(synced_config.data_dir)

    reading = read_report(db, store, keyring, submission.id)

    assert reading.body.category == "hate"
    assert reading.body.urls == ("https://e.example/1",)
    assert [s.id for s in list_reports(db)] == [submission.id]
    stranger = UnlockedKeyring(
        username="x", role="analyst", intake_keys={"k": PrivateKey.generate()}
    )
    with pytest.raises(ReportUnreadable):
        read_report(db, store, stranger, submission.id)
    # Without a role that may read, nothing is even opened (reports/sealed.py).
    roleless = UnlockedKeyring(username="y", intake_keys=dict(keyring.intake_keys))
    with pytest.raises(PermissionDenied):
        read_report(db, store, roleless, submission.id)
    with pytest.raises(ReportNotFound):
        read_report(db, store, keyring, "../" + submission.id)


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"[]",
        b'{"category": "hate"}',
        b'{"v": true, "category": "hate"}',
        b'{"v": 1}',
        b'{"v": 1, "category": "hate", "urls": "https://e.example"}',
        b'{"v": 1, "category": "hate", "description": 3}',
    ],
)
def test_malformed_bodies_are_refused(raw: bytes) -> None:
    with pytest.raises(ReportUnreadable):
        parse_report_body(raw)


def test_unknown_fields_are_ignored_and_missing_optional_ones_default() -> None:
    body = parse_report_body(b'{"v": 1, "category": "fraud", "new_field": {"x": 1}}')
    assert (body.category, body.urls, body.description, body.language) == ("fraud", (), "", "")
