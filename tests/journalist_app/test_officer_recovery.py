"""Recovery: every officer lost, the recovery secret from the safe reads the reports again."""

import base64
import re
import sqlite3
from pathlib import Path

import pyotp
import pytest
from nacl.signing import VerifyKey
from sqlalchemy import func, select

from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.errors import SignatureError
from crypto.recipients import verify_recipient_set
from journalist_app.cli.main import main
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry, Officer, UnitKey

NEW_ADMIN = "rescue"
NEW_ADMIN_PASSPHRASE = "the passphrase chosen on the day of recovery"
SUPERVISOR_PASSPHRASE = "the new supervisor picks this one"


@pytest.fixture
def cli_env(config, monkeypatch, mailbox):
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_SYNC_URL", mailbox.url)
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    return config


def _lose_every_officer(config) -> None:
    """What a fire, a departure and forgotten passphrases leave: no account, no grant."""
    database = Path(config.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM key_grants")
        connection.execute("DELETE FROM officers")


def test_init_submit_lose_everyone_recover_and_read(
    cli_env, db, unit, mailbox, client, auth, tmp_path, monkeypatch, capsys
) -> None:
    # init (the `unit` fixture) and submit: a report sealed to the recipient set, pulled.
    report = mailbox.add_report(
        {"v": 1, "category": "terrorism", "description": "readable after the disaster"}
    )
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", unit.passphrase)
    assert main(["sync", "--officer", unit.username]) == 0
    # The secret as `keys init` printed it, copied from the safe into a file.
    secret_file = tmp_path / "recovery.txt"
    secret_file.write_text(
        f"recovery secret: {base64.b64encode(unit.init.recovery_secret).decode()}\n"
    )

    _lose_every_officer(cli_env)
    capsys.readouterr()

    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", NEW_ADMIN_PASSPHRASE)
    public = tmp_path / "public"
    assert (
        main(
            [
                "keys",
                "recover",
                "--recovery-secret-file",
                str(secret_file),
                "--new-admin",
                NEW_ADMIN,
                "--public-out",
                str(public),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out

    # A new signing key: the public host must be given the new verify key.
    new_verify_key = VerifyKey(base64.b64decode((public / "unit-verify-key").read_text()))
    assert bytes(new_verify_key) != unit.init.unit_verify_key
    new_set = verify_recipient_set((public / "recipient-set.json").read_bytes(), new_verify_key)
    with pytest.raises(SignatureError):
        verify_recipient_set(
            (public / "recipient-set.json").read_bytes(), VerifyKey(unit.init.unit_verify_key)
        )
    assert "install the new unit-verify-key" in out
    [new_secret] = re.findall(r"^recovery secret: (\S+)$", out, re.MULTILINE)
    assert base64.b64decode(new_secret) != unit.init.recovery_secret

    def recovery(recipient_set):  # type: ignore[no-untyped-def]
        return [r.key_id for r in recipient_set.recipients if r.role == "recovery"]

    assert recovery(new_set) != recovery(unit.recipient_set)

    # The new admin reads the old report with the recovery key…
    db.expire_all()
    admin = unlock(db, NEW_ADMIN, NEW_ADMIN_PASSPHRASE, cli_env.wrap_params)
    assert b"after the disaster" in open_bytes(report.blobs["body"], admin.intake_identities())[1]

    # …and hands the keys on to a new supervisor, who reads it in the officer app.
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", NEW_ADMIN_PASSPHRASE)
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", SUPERVISOR_PASSPHRASE)
    assert (
        main(["officer", "add", "--officer", NEW_ADMIN, "--new", "nadia", "--role", "supervisor"])
        == 0
    )
    added = capsys.readouterr().out
    assert "granted: identity, intake, sync" in added
    totp_secret = re.search(r"^two-factor secret: (\S+)$", added, re.MULTILINE).group(1)
    client.get("/login?lang=en")
    assert (
        auth.login("nadia", SUPERVISOR_PASSPHRASE, pyotp.TOTP(totp_secret).now()).status_code == 302
    )
    page = client.get(f"/reports/{report.id}").get_data(as_text=True)
    assert "readable after the disaster" in page

    # New reports go to the new set and open too.
    fresh = seal_bytes(b"after recovery", new_set.public_keys(), EnvelopeMetadata(kind="report"))
    nadia = unlock(db, "nadia", SUPERVISOR_PASSPHRASE, cli_env.wrap_params)
    assert open_bytes(fresh, nadia.intake_identities())[1] == b"after recovery"
    recovered = db.scalar(select(AuditEntry).where(AuditEntry.action == "keys.recovered"))
    assert recovered is not None and recovered.actor == NEW_ADMIN


def test_a_wrong_or_malformed_recovery_secret_changes_nothing(
    cli_env, db, unit, tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("IBLAGH_NEW_OFFICER_PASSPHRASE", NEW_ADMIN_PASSPHRASE)
    wrong = tmp_path / "wrong.txt"
    for content, message in (
        (base64.b64encode(b"\x01" * 32).decode(), "not the unit's recovery secret"),
        ("not base64 at all!", "recovery secret"),
    ):
        wrong.write_text(content)
        args = ["keys", "recover", "--recovery-secret-file", str(wrong), "--new-admin", NEW_ADMIN]
        assert main(args) == 1
        assert message in capsys.readouterr().err
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Officer)) == 1
    assert (
        db.scalar(select(func.count()).select_from(UnitKey).where(UnitKey.retired_at.isnot(None)))
        == 0
    )
