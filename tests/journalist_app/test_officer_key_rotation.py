"""Intake-key rotation: everyone who held the old key gets the new one; old reports still open."""

import base64
import json

import pytest
from nacl.signing import VerifyKey
from sqlalchemy import func, select

from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.errors import EnvelopeError
from crypto.recipients import verify_recipient_set
from journalist_app.cli.main import main
from journalist_app.errors import PermissionDenied
from journalist_app.keys.custody import unlock
from journalist_app.keys.rotation import rotate_intake_key
from journalist_app.models import AuditEntry, KeyGrant, UnitKey


def _seal(recipient_set, text: bytes) -> bytes:
    return seal_bytes(text, recipient_set.public_keys(), EnvelopeMetadata(kind="report"))


def test_rotation_grants_the_new_key_to_every_holder_and_keeps_old_reports_readable(
    db, config, unit, make_officer
) -> None:
    analyst = make_officer("analyst")
    expert = make_officer("technical_expert")
    waiting = make_officer("analyst", with_keys=False)
    admin = make_officer("admin")
    old_report = _seal(unit.recipient_set, b"sent before the rotation")
    admin_keyring = unlock(db, admin.username, admin.passphrase, config.wrap_params)

    result = rotate_intake_key(db, admin_keyring)

    new_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    assert new_set.serial == unit.recipient_set.serial + 1
    intake = [r for r in new_set.recipients if r.role == "intake"]
    assert [r.key_id for r in intake] == [result.new_key_id]
    assert result.retired_key_ids == tuple(
        r.key_id for r in unit.recipient_set.recipients if r.role == "intake"
    )
    assert sorted(result.granted_to) == sorted([unit.username, analyst.username, expert.username])
    new_report = _seal(new_set, b"sent after the rotation")

    for login in (
        (unit.username, unit.passphrase),
        (analyst.username, analyst.passphrase),
        (
            expert.username,
            expert.passphrase,
        ),
    ):
        keyring = unlock(db, *login, config.wrap_params)
        assert len(keyring.intake_keys) == 2, login[0]
        assert open_bytes(old_report, keyring.intake_identities())[1] == b"sent before the rotation"
        assert open_bytes(new_report, keyring.intake_identities())[1] == b"sent after the rotation"
    # Who held nothing gets nothing; the admin who rotated keeps nothing.
    for login in (waiting.username, waiting.passphrase), (admin.username, admin.passphrase):
        keyring = unlock(db, *login, config.wrap_params)
        assert keyring.intake_keys == {}
        with pytest.raises(EnvelopeError):
            open_bytes(new_report, keyring.intake_identities())
    retired = db.scalar(select(UnitKey).where(UnitKey.key_id == result.retired_key_ids[0]))
    assert retired is not None and retired.retired_at is not None
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "keys.rotated"))
    assert entry is not None and entry.actor == admin.username
    assert json.loads(entry.details)["retired"] == list(result.retired_key_ids)


def test_only_an_admin_rotates(db, config, unit) -> None:
    keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    assert keyring.signing_key is not None, "the first officer holds it, yet may not rotate"
    with pytest.raises(PermissionDenied):
        rotate_intake_key(db, keyring)
    assert db.scalar(select(func.count()).select_from(UnitKey)) == 5


def test_old_and_new_reports_open_in_the_officer_app_after_a_rotation(
    db, config, unit, make_officer, mailbox, client, auth
) -> None:
    admin = make_officer("admin")
    before = mailbox.add_report({"v": 1, "category": "fraud", "description": "old key"})
    result = rotate_intake_key(db, unlock(db, admin.username, admin.passphrase, config.wrap_params))
    mailbox.recipient_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    after = mailbox.add_report({"v": 1, "category": "fraud", "description": "new key"})
    auth.login()
    auth.sync()
    assert "old key" in client.get(f"/reports/{before.id}").get_data(as_text=True)
    assert "new key" in client.get(f"/reports/{after.id}").get_data(as_text=True)


def test_keys_rotate_on_the_command_line_writes_the_new_set(
    db, config, unit, make_officer, tmp_path, monkeypatch, capsys
) -> None:
    admin = make_officer("admin")
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", admin.passphrase)
    public = tmp_path / "public"

    assert main(["keys", "rotate", "--officer", admin.username, "--public-out", str(public)]) == 0

    out = capsys.readouterr().out
    assert "new intake key " in out and f"granted to: {unit.username}" in out
    verify_key = VerifyKey(base64.b64decode((public / "unit-verify-key").read_text()))
    written = verify_recipient_set((public / "recipient-set.json").read_bytes(), verify_key)
    assert written.serial == 2
    new_id = out.split("new intake key ", 1)[1].split()[0]
    holders = db.scalar(select(func.count()).select_from(KeyGrant).where(KeyGrant.key_id == new_id))
    assert holders == 1, "the supervisor alone held the old key; the admin gets none"
