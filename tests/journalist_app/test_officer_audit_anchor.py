"""The audit chain anchored outside the database (issue 9, item 6; docs/invariants.md, 11).

Each attack below passes the hash chain alone (``verify_chain`` says intact: the first
assertion of each test, which is what ``audit verify`` said before anchors), and is
caught against a checkpoint signed before it with the sync key.
"""

import pytest
from nacl.signing import SigningKey
from sqlalchemy import select

from crypto.audit_anchor import parse_checkpoint, sign_checkpoint
from crypto.errors import CryptoError, SignatureError
from journalist_app import audit
from journalist_app.audit_anchor import (
    current_checkpoint,
    sign_current_checkpoint,
    verify_against_anchor,
)
from journalist_app.cli.main import main
from journalist_app.keys.custody import unlock
from journalist_app.models.audit import AuditEntry
from tests.conftest import BOTH_ENGINES
from tests.support.tamper import direct_writer

# Tampering by direct SQL is checked on both engines (tests/support/tamper.py).
OFFICER_ENGINES = BOTH_ENGINES

SUPERVISOR = "nadia"


@pytest.fixture
def keyring(unit, db, config):
    return unlock(db, unit.username, unit.passphrase, config.wrap_params)


@pytest.fixture
def logged(db, unit) -> None:
    """A day of work, with one identity revealed in the middle (entry ``reveal_id``)."""
    for number in range(3):
        audit.record(db, unit.username, audit.Action.REPORT_OPENED, f"report:{number:032x}")
    audit.record(
        db,
        SUPERVISOR,
        audit.Action.IDENTITY_REVEALED,
        "report:" + "a" * 32,
        {"reason": "imminent threat to life"},
    )
    for number in range(3, 6):
        audit.record(db, unit.username, audit.Action.REPORT_OPENED, f"report:{number:032x}")
    db.commit()


@pytest.fixture
def plain_log(db, unit) -> None:
    """Seven entries and no reveal: ``audit verify`` also compares reveals with their table
    (journalist_app/audit_derived.py), which these tests do not fill."""
    for number in range(7):
        audit.record(db, unit.username, audit.Action.REPORT_OPENED, f"report:{number:032x}")
    db.commit()


def _reveal_id(db) -> int:
    return db.scalar(
        select(AuditEntry.id).where(AuditEntry.action == audit.Action.IDENTITY_REVEALED)
    )


def _rewrite_from(db, config, entry_id: int, **changes: str) -> None:
    """Change one entry, then recompute its hash and every later link and hash, as someone
    who can write the database (and knows the chain's public formula) would."""
    db.expire_all()
    entries = list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    previous = audit.GENESIS_HASH
    rows = []
    for entry in entries:
        if entry.id == entry_id:
            for column, value in changes.items():
                setattr(entry, column, value)
        entry.prev_hash = previous
        entry.hash = audit.entry_hash(entry)
        previous = entry.hash
        rows.append((entry.actor, entry.details, entry.prev_hash, entry.hash, entry.id))
    db.expunge_all()
    db.rollback()
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        # Unique prev_hash: move every row out of the way, then write the rewritten chain.
        connection.execute("UPDATE audit_entries SET prev_hash = 'x' || id, hash = 'y' || id")
        connection.executemany(
            "UPDATE audit_entries SET actor = ?, details = ?, prev_hash = ?, hash = ? WHERE id = ?",
            rows,
        )


def _verify_alone(db) -> audit.ChainCheck:
    db.expire_all()
    return audit.verify_chain(db)


def test_a_middle_entry_rewritten_with_every_hash_recomputed_is_caught_by_the_anchor(
    db, config, keyring, logged
) -> None:
    anchor = sign_current_checkpoint(db, keyring.sync_key)

    _rewrite_from(db, config, 3, details='{"n":"nothing to see"}')

    assert _verify_alone(db).intact, "the chain alone cannot tell"
    check, _ = verify_against_anchor(db, anchor)
    assert not check.intact
    assert "entry 7 is not the one anchored" in check.problem


def test_the_officer_who_revealed_an_identity_cannot_be_rewritten(
    db, config, keyring, logged
) -> None:
    anchor = sign_current_checkpoint(db, keyring.sync_key)
    reveal = _reveal_id(db)

    _rewrite_from(db, config, reveal, actor="someone_else")

    assert _verify_alone(db).intact, "the chain alone cannot tell"
    check, _ = verify_against_anchor(db, anchor)
    assert not check.intact and "rewritten" in check.problem


def test_deleting_the_last_entry_is_caught_without_a_noted_head(
    db, config, keyring, logged
) -> None:
    anchor = sign_current_checkpoint(db, keyring.sync_key)
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute(
            "DELETE FROM audit_entries WHERE id = (SELECT max(id) FROM audit_entries)"
        )

    assert _verify_alone(db).intact, "the chain alone cannot tell"
    check, _ = verify_against_anchor(db, anchor)
    assert not check.intact
    assert "counted 7 entries and the log holds 6" in check.problem


def test_entries_added_after_the_anchor_keep_the_chain_intact(db, keyring, logged, unit) -> None:
    anchor = sign_current_checkpoint(db, keyring.sync_key)
    audit.record(db, unit.username, audit.Action.REPORT_OPENED, "report:" + "b" * 32)
    db.commit()
    check, signed = verify_against_anchor(db, anchor)
    assert check.intact and check.count == 8 and signed.checkpoint.count == 7


def test_an_anchor_the_database_writer_signed_with_a_key_of_their_own_is_refused(
    db, logged
) -> None:
    forged = sign_checkpoint(current_checkpoint(db), SigningKey.generate())
    with pytest.raises(SignatureError):
        verify_against_anchor(db, forged)


def test_an_anchor_edited_after_signing_is_refused(db, keyring, logged) -> None:
    anchor = sign_current_checkpoint(db, keyring.sync_key)
    edited = anchor.replace(b'"count":7', b'"count":6')
    assert parse_checkpoint(edited)[0].count == 6
    with pytest.raises(SignatureError):
        verify_against_anchor(db, edited)
    with pytest.raises(CryptoError):
        verify_against_anchor(db, b'{"v": 1}')


def test_audit_verify_checks_an_anchor_file(
    db, config, keyring, plain_log, tmp_path, monkeypatch, capsys
) -> None:
    anchor = tmp_path / "anchor.json"
    anchor.write_bytes(sign_current_checkpoint(db, keyring.sync_key))
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    assert main(["audit", "verify", "--anchor", str(anchor)]) == 0
    assert "anchored: entry 7 is the one signed at " in capsys.readouterr().out

    _rewrite_from(db, config, 4, actor="someone_else")

    assert main(["audit", "verify"]) == 0, "the chain alone still verifies"
    capsys.readouterr()
    assert main(["audit", "verify", "--anchor", str(anchor)]) == 1
    assert "entry 7 is not the one anchored at" in capsys.readouterr().err


def test_every_sync_sends_an_anchor_and_audit_verify_checks_the_public_hosts_latest(
    db, config, synced_config, mailbox, keyring, plain_log, unit, monkeypatch, capsys
) -> None:
    from journalist_app.sync.pull import run_sync

    result = run_sync(db, synced_config, keyring)
    assert result.anchored_entries == 7
    assert max(mailbox.audit_anchors) == 7
    for name, value in {
        "IBLAGH_DATA_DIR": str(synced_config.data_dir),
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_SYNC_URL": mailbox.url,
        "IBLAGH_OFFICER_PASSPHRASE": unit.passphrase,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    assert main(["audit", "verify", "--officer", unit.username]) == 0
    assert "anchored: entry 7 is the one signed at" in capsys.readouterr().out

    _rewrite_from(db, config, 4, actor="someone_else")

    assert main(["audit", "verify", "--officer", unit.username]) == 1
    assert "entry 7 is not the one anchored at" in capsys.readouterr().err
    # The next sync does not anchor the rewritten log in its turn: it says so instead.
    db.expire_all()
    after = run_sync(db, synced_config, keyring)
    assert after.anchored_entries == 0 and "entry 7 is not the one" in after.audit_anchor_problem
    assert "WARNING: the audit log does not match the last anchor" in after.summary()
    assert max(mailbox.audit_anchors) == 7


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "The audit log does not match the last anchor the public host keeps"),
        ("fr", "Le journal d’audit ne correspond pas au dernier ancrage"),
        ("es", "El registro de auditoría no coincide con el último anclaje"),
        ("ar", "سجل التدقيق لا يطابق آخر مرساة"),
    ],
)
def test_the_web_sync_page_warns_when_the_log_no_longer_matches_its_anchor(
    client, auth, mailbox, db, config, unit, lang, expected
) -> None:
    client.get(f"/login?lang={lang}")
    auth.login()
    auth.sync()
    _rewrite_from(db, config, 1, actor="someone_else")
    auth.sync()
    html = client.get("/").get_data(as_text=True)
    assert expected in html


def test_plain_audit_verify_checks_the_anchor_this_host_kept_of_its_last_sync(
    db, config, synced_config, mailbox, keyring, plain_log, monkeypatch, capsys
) -> None:
    from journalist_app.audit_anchor import ANCHOR_FOLDER
    from journalist_app.sync.pull import run_sync

    run_sync(db, synced_config, keyring)
    kept = list((synced_config.data_dir / ANCHOR_FOLDER).glob("*.json"))
    assert len(kept) == 1 and parse_checkpoint(kept[0].read_bytes())[0].count == 7
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(synced_config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    assert main(["audit", "verify"]) == 0
    assert "anchored: entry 7 is the one signed at" in capsys.readouterr().out

    # Whoever can write the database but not the data folder (a database server apart).
    _rewrite_from(db, config, 4, actor="someone_else")
    assert _verify_alone(db).intact, "the chain alone still verifies"
    assert main(["audit", "verify"]) == 1
    assert "entry 7 is not the one anchored at" in capsys.readouterr().err

    # Root on this host can remove the copies: verify then says there is none to check.
    kept[0].unlink()
    assert main(["audit", "verify"]) == 0
    assert "no anchor kept in" in capsys.readouterr().out
