"""Recipient-set freshness (issue 9, item 4): every sync checks which signed recipient set
the public host serves and warns when it is not the last one issued here."""

import json

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from crypto.recipients import sign_recipient_set
from journalist_app.keys.custody import unlock
from journalist_app.keys.rotation import rotate_intake_key
from journalist_app.models import AuditEntry
from journalist_app.sync.pull import run_sync

BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


@pytest.fixture
def rotated(db, config, make_officer):
    """The intake key rotated on the officer host (set 2), the public host left on set 1."""
    admin = make_officer("admin")
    return rotate_intake_key(db, unlock(db, admin.username, admin.passphrase, config.wrap_params))


def _warnings(db):
    return [
        json.loads(entry.details)
        for entry in db.scalars(
            select(AuditEntry).where(AuditEntry.action == "sync.recipient_set_not_current")
        )
    ]


def test_a_public_host_on_the_current_set_raises_no_warning(
    mailbox, db, synced_config, keyring
) -> None:
    result = run_sync(db, synced_config, keyring)
    assert result.recipient_set is not None and result.recipient_set.status == "current"
    assert "WARNING" not in result.summary()


def test_after_a_rotation_a_public_host_still_on_the_old_set_is_reported_stale(
    mailbox, db, synced_config, keyring, rotated, unit
) -> None:
    # Still sealing to the retired intake key: this host opens it, so only the check tells.
    mailbox.add_report(BODY)

    result = run_sync(db, synced_config, keyring)

    assert result.new == 1
    check = result.recipient_set
    assert (check.status, check.served_serial, check.current_serial) == ("stale", 1, 2)
    assert "WARNING: the public host runs recipient set 1, not the current 2" in result.summary()

    mailbox.signed_recipient_set = rotated.signed_recipient_set
    assert run_sync(db, synced_config, keyring).recipient_set.status == "current"


def test_a_set_signed_by_another_key_is_reported_forged(
    mailbox, db, synced_config, keyring, unit
) -> None:
    mailbox.signed_recipient_set = sign_recipient_set(unit.recipient_set, SigningKey.generate())
    result = run_sync(db, synced_config, keyring)
    assert result.recipient_set.status == "forged"
    assert "not signed by the unit's key" in result.summary()


def test_a_public_host_that_serves_no_set_is_reported_unchecked(
    mailbox, db, synced_config, keyring
) -> None:
    mailbox.signed_recipient_set = b""
    result = run_sync(db, synced_config, keyring)
    assert result.recipient_set.status == "unavailable"
    assert "was not checked" in result.summary()


def test_the_cli_summary_and_the_audit_log_carry_the_warning(
    mailbox, db, synced_config, keyring, rotated, unit, monkeypatch, capsys
) -> None:
    from journalist_app.cli.main import main

    for name, value in {
        "IBLAGH_DATA_DIR": str(synced_config.data_dir),
        "IBLAGH_DATABASE_URL": synced_config.database_url,
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_SYNC_URL": mailbox.url,
        "IBLAGH_SYNC_CHECK_ENVELOPES": "0",
        "IBLAGH_OFFICER_PASSPHRASE": unit.passphrase,
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["sync", "--officer", unit.username]) == 0
    out = capsys.readouterr().out
    assert "WARNING: the public host runs recipient set 1, not the current 2" in out
    db.expire_all()
    [warning] = _warnings(db)
    assert (warning["status"], warning["served_serial"], warning["current_serial"]) == (
        "stale",
        1,
        2,
    )
    assert warning["via"] == "cli"


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "The public host still runs recipient set 1, not the current 2"),
        ("fr", "Le serveur public utilise encore le jeu de destinataires 1"),
        ("es", "El servidor público aún usa el conjunto de destinatarios 1"),
        ("ar", "ما زال الخادم العام يعمل بمجموعة المستلمين 1"),
    ],
)
def test_the_web_sync_page_warns_in_the_officers_language(
    client, auth, mailbox, rotated, db, lang, expected
) -> None:
    client.get(f"/login?lang={lang}")
    auth.login()
    auth.sync()
    html = client.get("/").get_data(as_text=True)
    assert expected in html
    db.expire_all()
    assert [w["via"] for w in _warnings(db)] == ["web"]
