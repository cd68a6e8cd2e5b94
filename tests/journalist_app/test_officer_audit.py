"""The audit log: append-only, hash-chained; an edited, deleted or inserted row is named."""

import itertools
import json

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DatabaseError, IntegrityError

from journalist_app import audit
from journalist_app.cli.main import main
from journalist_app.keys.custody import unlock
from journalist_app.models import AuditEntry
from journalist_app.models.audit import AuditEntry as Entry
from tests.conftest import BOTH_ENGINES
from tests.support.tamper import direct_writer

# Tampering by direct SQL is checked on both engines (tests/support/tamper.py).
OFFICER_ENGINES = BOTH_ENGINES


@pytest.fixture
def logged(db, unit) -> list[AuditEntry]:
    """Six entries, as a day of work would leave them."""
    for number in range(6):
        audit.record(
            db,
            unit.username,
            audit.Action.REPORT_OPENED,
            audit.report_target(f"{number:032x}"),
            {"n": number, "note": "ملاحظة"},
        )
    db.commit()
    return list(db.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def _verify(db) -> audit.ChainCheck:
    db.expire_all()
    return audit.verify_chain(db)


def test_an_intact_chain_verifies_and_links_every_entry(db, logged) -> None:
    check = _verify(db)
    assert check.intact and check.count == 6 and check.head == logged[-1].hash
    assert logged[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(logged))
    assert json.loads(logged[2].details) == {"n": 2, "note": "ملاحظة"}


def test_the_database_refuses_updates_and_deletes(db, logged, config) -> None:
    for statement in (
        "UPDATE audit_entries SET actor = 'mallory' WHERE id = 2",
        "DELETE FROM audit_entries WHERE id = 2",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            direct_writer(config.database_url, db) as connection,
        ):
            connection.execute(statement)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory"),
        ("action", "report.closed"),
        ("target", "report:" + "f" * 32),
        ("details", '{"n":3,"note":"nothing"}'),
        ("time", "2020-01-01T00:00:00.000000Z"),
    ],
)
def test_an_edited_row_is_named(db, logged, config, column: str, value: str) -> None:
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute(f"UPDATE audit_entries SET {column} = ? WHERE id = 4", (value,))  # noqa: S608
    check = _verify(db)
    assert not check.intact and check.broken_at == 4
    assert check.problem == "entry 4 was altered"


def test_an_edited_row_with_its_hash_recomputed_breaks_the_next_link(db, logged, config) -> None:
    forged = Entry(
        **{
            c: getattr(logged[2], c)
            for c in ("id", "time", "action", "target", "details", "prev_hash")
        },
        actor="mallory",
    )
    new_hash = audit.entry_hash(forged)
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute(
            "UPDATE audit_entries SET actor = 'mallory', hash = ? WHERE id = 3", (new_hash,)
        )
    check = _verify(db)
    assert check.broken_at == 4 and "does not follow entry 3" in check.problem


def test_a_deleted_row_is_named(db, logged, config) -> None:
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute("DELETE FROM audit_entries WHERE id = 3")
    check = _verify(db)
    assert check.broken_at == 3 and check.problem.startswith("entry 3 is missing")


def test_a_deleted_row_with_the_rest_renumbered_is_named(db, logged, config) -> None:
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute("DELETE FROM audit_entries WHERE id = 3")
        for old in range(4, 7):
            connection.execute("UPDATE audit_entries SET id = ? WHERE id = ?", (old - 1, old))
    check = _verify(db)
    assert check.broken_at == 3 and "does not follow entry 2" in check.problem


def test_an_inserted_row_is_named(db, logged, config) -> None:
    """Mallory inserts a well-formed entry after entry 2 and renumbers the rest."""
    fake = Entry(
        id=3,
        time=logged[2].time,
        actor="mallory",
        action=audit.Action.REPORT_OPENED,
        target="report:" + "e" * 32,
        details="{}",
        prev_hash=logged[1].hash,
    )
    fake.hash = audit.entry_hash(fake)
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        for old in range(6, 2, -1):
            connection.execute("UPDATE audit_entries SET id = ? WHERE id = ?", (old + 1, old))
        # Relink the genuine entry to the fake one (prev_hash is unique: no two can share it).
        connection.execute("UPDATE audit_entries SET prev_hash = ? WHERE id = 4", (fake.hash,))
        connection.execute(
            "INSERT INTO audit_entries (id, time, actor, action, target, details, prev_hash, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                3,
                fake.time,
                fake.actor,
                fake.action,
                fake.target,
                fake.details,
                fake.prev_hash,
                fake.hash,
            ),
        )
    check = _verify(db)
    # The forged entry itself chains on; the genuine one after it no longer hashes right.
    assert check.broken_at == 4 and check.problem == "entry 4 was altered"


def test_a_cut_end_is_found_against_a_noted_head(db, logged, config) -> None:
    noted = _verify(db).head
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute("DELETE FROM audit_entries WHERE id >= 5")
    assert _verify(db).intact, "a shorter log is indistinguishable without a note"
    check = audit.verify_chain(db, expected_head=noted)
    assert not check.intact and "noted head" in check.problem


def test_the_chain_cannot_fork(db, logged) -> None:
    twin = Entry(
        id=99,
        time=logged[-1].time,
        actor="x",
        action="x",
        target="",
        details="{}",
        prev_hash=logged[-1].prev_hash,
        hash="0" * 63 + "1",
    )
    db.add(twin)
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()


def test_an_entry_commits_with_its_action_or_not_at_all(db, logged) -> None:
    audit.record(db, "alice", audit.Action.STATUS_CHANGED, "case:1", {"to": "closed"})
    db.rollback()
    assert _verify(db).count == 6
    entry = audit.record(db, "alice", audit.Action.STATUS_CHANGED, "case:1", {"to": "closed"})
    db.commit()
    assert entry.id == 7 and _verify(db).intact


def test_details_must_be_plain_json(db, unit) -> None:
    with pytest.raises(ValueError):
        audit.record(db, "alice", "x", "", {"number": float("nan")})
    with pytest.raises(TypeError):
        audit.record(db, "alice", "x", "", {"when": object()})


def test_audit_verify_on_the_command_line(db, logged, config, monkeypatch, capsys) -> None:
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audit log intact: 6 entries; head ")
    head = out.split("head ", 1)[1].split()[0]
    assert main(["audit", "verify", "--head", head]) == 0
    with direct_writer(config.database_url, db) as connection:
        connection.drop_audit_triggers()
        connection.execute("UPDATE audit_entries SET actor = 'mallory' WHERE id = 5")
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    assert capsys.readouterr().err == (
        "error: audit log broken at entry 5: entry 5 was altered (4 entries verified before)\n"
    )


# --- who sees what ----------------------------------------------------------------------------


def test_officers_see_their_own_entries_supervisors_all(
    app, client, auth, db, config, unit, make_officer
) -> None:
    analyst = make_officer("analyst")
    admin = make_officer("admin")
    audit.record(db, unit.username, "report.opened", "report:" + "a" * 32)
    audit.record(db, analyst.username, "report.opened", "report:" + "b" * 32)
    audit.record(db, admin.username, "account.passphrase_reset", f"officer:{analyst.username}")
    db.commit()

    auth.login(analyst.username, analyst.passphrase)
    own = client.get("/audit").get_data(as_text=True)
    assert "b" * 32 in own and "a" * 32 not in own
    # What was done to their account is theirs to see too.
    assert "account.passphrase_reset" in own
    auth.logout()

    auth.login()
    everyone = client.get("/audit").get_data(as_text=True)
    assert "a" * 32 in everyone and "b" * 32 in everyone
    assert "login.succeeded" in everyone and analyst.username in everyone


def test_the_keyring_and_the_service_refuse_the_audit_of_others(db, config, unit, make_officer):
    analyst = make_officer("technical_expert")
    audit.record(db, unit.username, "report.opened", "report:" + "a" * 32)
    db.commit()
    keyring = unlock(db, analyst.username, analyst.passphrase, config.wrap_params)
    page = audit.list_entries(db, keyring)
    assert not page.everyone and page.entries == []


def test_opening_a_report_and_syncing_are_logged(client, auth, db, unit, mailbox) -> None:
    submission = mailbox.add_report({"v": 1, "category": "fraud", "description": "x"})
    auth.login()
    auth.sync()
    client.get(f"/reports/{submission.id}")
    entries = [
        (e.actor, e.action, e.target, json.loads(e.details))
        for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    synced = [e for e in entries if e[1] == "sync.completed"]
    assert synced and synced[0][3]["new"] == 1 and synced[0][3]["via"] == "web"
    assert (
        unit.username,
        "report.opened",
        f"report:{submission.id}",
        {"file": "body", "report": submission.id},
    ) in entries
    assert audit.verify_chain(db).intact
