"""The identity key: only the roles that may reveal an identity can decrypt one.

Identity sections are sealed to the unit's identity keys and the recovery key, never to
an intake key (crypto/recipients.py); custody grants identity keys only to supervisors
(roles.ROLE_UNIT_KEYS). These tests follow the key through init, grants, the reveal,
rotation of either key, and recovery: reports stay readable and identities revealable,
and an analyst's keys never open an identity, with or without the permission check.
"""

import base64
import dataclasses
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from nacl.signing import VerifyKey
from sqlalchemy import delete, func, select, update

from crypto.contents import ReportBody
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.errors import NoMatchingRecipient
from crypto.recipients import RecipientSet, verify_recipient_set
from journalist_app import create_app
from journalist_app.accounts import officers
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.cli.main import main
from journalist_app.errors import KeysNotInitialised, PermissionDenied
from journalist_app.keys import rotation as key_ops
from journalist_app.keys.custody import unlock
from journalist_app.keys.grants import grant_keys
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.keys.recipient_sets import issue_recipient_set
from journalist_app.models import (
    AuditEntry,
    IdentityReveal,
    KeyGrant,
    Officer,
    ReportTriage,
    UnitKey,
)
from journalist_app.roles import ROLE_UNIT_KEYS, Role
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.pull import run_sync
from journalist_app.triage.errors import IdentityKeyMissing, RevealRefused
from journalist_app.triage.identity import reveal_identity
from tests.support.bound import bound_parts
from tests.support.triage import TriageWorld, log_in, make_world

REASON = "The prosecutor asked to hear the witness in case 2026/114."
NOW = datetime(2026, 11, 29, 9)


def _body(description: str) -> str:
    return description


def _submit(mailbox, recipient_set: RecipientSet, description: str, name: str):
    """A report with an identity, sealed and bound as the public host seals it."""
    return mailbox.add(
        bound_parts(
            {"category": "terrorism", "description": description},
            recipient_set.public_keys(),
            {"full_name": name},
            recipient_set.identity_public_keys(),
        )
    )


def _reveal(db, config, keyring: UnlockedKeyring, report_id: str) -> str:
    db.expire_all()
    case_id = db.get(ReportTriage, report_id).case_id
    store = LocalBlobStore(config.data_dir)
    return reveal_identity(db, store, keyring, case_id, report_id, REASON).full_name


def _reads(keyring: UnlockedKeyring, envelope: bytes) -> bytes:
    return open_bytes(envelope, keyring.intake_identities())[1]


def _reveals(db) -> int:
    return db.scalar(select(func.count()).select_from(IdentityReveal))


# --- init and grants ------------------------------------------------------------------------


def test_the_role_to_key_table() -> None:
    """Only a role allowed to reveal holds identity keys (docs/keys.md)."""
    expected = {
        Role.ADMIN: frozenset({"signing"}),
        Role.SUPERVISOR: frozenset({"intake", "identity", "sync"}),
        Role.ANALYST: frozenset({"intake", "sync"}),
        Role.TECHNICAL_EXPERT: frozenset({"intake"}),
    }
    assert dict(ROLE_UNIT_KEYS) == expected


def test_keys_init_makes_an_identity_key_held_by_supervisors_only(
    db, config, unit, make_officer
) -> None:
    [identity] = db.scalars(select(UnitKey).where(UnitKey.role == "identity")).all()
    assert [r.key_id for r in unit.recipient_set.recipients if r.role == "identity"] == [
        identity.key_id
    ]
    alice = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    assert list(alice.identity_keys) == [identity.key_id]
    assert identity.key_id not in alice.intake_keys
    holders = {
        role: unlock(db, login.username, login.passphrase, config.wrap_params)
        for role, login in (
            (role, make_officer(role))
            for role in ("supervisor", "analyst", "technical_expert", "admin")
        )
    }
    assert list(holders["supervisor"].identity_keys) == [identity.key_id]
    for role in ("analyst", "technical_expert", "admin"):
        assert holders[role].identity_keys == {} and holders[role].identity_section_keys() == []


def test_an_analysts_keyring_cannot_open_an_identity_envelope(
    db, config, unit, make_officer
) -> None:
    analyst = make_officer("analyst")
    keyring = unlock(db, analyst.username, analyst.passphrase, config.wrap_params)
    identity = seal_bytes(
        b'{"v": 1, "full_name": "Nadia"}',
        unit.recipient_set.identity_public_keys(),
        EnvelopeMetadata(kind="identity"),
    )
    body = seal_bytes(
        b"what I saw", unit.recipient_set.public_keys(), EnvelopeMetadata(kind="report")
    )
    assert _reads(keyring, body) == b"what I saw"
    # Every key the analyst holds, the sync key aside: no stanza names any of them.
    with pytest.raises(NoMatchingRecipient):
        open_bytes(identity, [*keyring.intake_identities(), *keyring.identity_section_keys()])
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    assert open_bytes(identity, supervisor.identity_section_keys())[1] == (
        b'{"v": 1, "full_name": "Nadia"}'
    )
    # …and the supervisor's identity key does not read the report body either.
    with pytest.raises(NoMatchingRecipient):
        open_bytes(body, supervisor.identity_section_keys())


def test_granting_gives_the_identity_key_to_a_supervisor_and_never_to_an_analyst(
    db, config, unit, make_officer
) -> None:
    holder = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    supervisor = make_officer("supervisor", with_keys=False)
    analyst = make_officer("analyst", with_keys=False)
    admin = make_officer("admin", with_keys=False)
    identity_id = next(iter(holder.identity_keys))
    assert identity_id in grant_keys(db, holder, supervisor.username)
    assert identity_id not in grant_keys(db, holder, analyst.username)
    # The admin's explicit intake exception never extends to identities.
    assert identity_id not in grant_keys(db, holder, admin.username, with_intake=True)
    entry = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "keys.granted").order_by(AuditEntry.id)
    ).first()
    assert "identity" in json.loads(entry.details)["kinds"]
    summaries = {
        s.username: s for s in officers.list_accounts(db, _admin(db, config, make_officer))
    }
    assert "identity" in summaries[supervisor.username].holds
    assert "identity" not in summaries[analyst.username].holds | summaries[analyst.username].missing


def _admin(db, config, make_officer) -> UnlockedKeyring:
    admin = make_officer("admin")
    return unlock(db, admin.username, admin.passphrase, config.wrap_params)


# --- the reveal -------------------------------------------------------------------------------


def test_a_pulled_identity_is_revealed_by_a_supervisor_and_never_by_an_analyst(
    db, config, synced_config, unit, mailbox, make_officer
) -> None:
    submitted = _submit(mailbox, unit.recipient_set, "a school is threatened", "Nadia Benali")
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    run_sync(db, synced_config, supervisor)
    analyst_login = make_officer("analyst")
    analyst = unlock(db, analyst_login.username, analyst_login.passphrase, config.wrap_params)

    with pytest.raises(PermissionDenied):
        _reveal(db, config, analyst, submitted.id)
    # Past the permission check (a patched app, a shell): the keys still refuse.
    as_supervisor = dataclasses.replace(analyst, role=Role.SUPERVISOR.value)
    with pytest.raises(IdentityKeyMissing):
        _reveal(db, config, as_supervisor, submitted.id)
    # Even put where identity keys go, an intake key does not open an identity.
    stuffed = dataclasses.replace(as_supervisor, identity_keys=dict(analyst.intake_keys))
    with pytest.raises(IdentityKeyMissing, match="not sealed to an identity key you hold"):
        _reveal(db, config, stuffed, submitted.id)
    assert _reveals(db) == 0

    assert _reveal(db, config, supervisor, submitted.id) == "Nadia Benali"
    assert _reveals(db) == 1
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "identity.revealed"))
    assert entry.actor == unit.username and REASON in entry.details


@pytest.fixture
def world(tmp_path: Path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


def test_the_reveal_route_refuses_an_analyst_and_a_supervisor_without_the_identity_key(
    world,
) -> None:
    report = world.add_report({"category": "threat_to_life"}, identity="Nadia Benali")
    world.session.expire_all()
    case_id = world.session.get(ReportTriage, report).case_id
    # A supervisor account whose identity grant has not been given yet.
    keyless = dataclasses.replace(world.add_officer("sami", "supervisor"), identity_keys={})
    app = create_app(world.config)
    analyst = app.test_client()
    log_in(app, analyst, world.analyst)
    page = analyst.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Reveal the identity" not in page
    refused = analyst.post(
        f"/cases/{case_id}/reports/{report}/identity",
        data={"reveal-csrf_token": _csrf_of_any_form(page), "reveal-reason": REASON},
    )
    assert refused.status_code == 403
    client = app.test_client()
    log_in(app, client, keyless)
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Reveal the identity" in page, "the role may reveal: only the key is missing"
    token = _csrf(page)
    response = client.post(
        f"/cases/{case_id}/reports/{report}/identity",
        data={"reveal-csrf_token": token, "reveal-reason": REASON},
    )
    assert response.status_code == 302
    after = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "does not open with your keys" in after and "Nadia" not in after
    assert world.session.query(IdentityReveal).count() == 0
    with pytest.raises(IdentityKeyMissing):
        reveal_identity(world.session, world.store, keyless, case_id, report, REASON, NOW)
    assert issubclass(IdentityKeyMissing, RevealRefused)


def _csrf(html: str) -> str:
    match = re.search(r'name="reveal-csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no reveal form"
    return match.group(1)


def _csrf_of_any_form(html: str) -> str:
    match = re.search(r'name="[a-z]*-?csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no form"
    return match.group(1)


def test_an_analysts_keys_refuse_a_reveal_even_past_the_permission_check(
    world: TriageWorld,
) -> None:
    report = world.add_report({"category": "fraud"}, identity="Someone")
    world.session.expire_all()
    case_id = world.session.get(ReportTriage, report).case_id
    analyst_as_supervisor = dataclasses.replace(world.analyst, role=Role.SUPERVISOR.value)
    with pytest.raises(IdentityKeyMissing):
        reveal_identity(
            world.session, world.store, analyst_as_supervisor, case_id, report, REASON, NOW
        )
    identity = reveal_identity(
        world.session, world.store, world.supervisor, case_id, report, REASON
    )
    assert identity.full_name == "Someone"


# --- rotation ---------------------------------------------------------------------------------


def test_intake_rotation_keeps_the_identity_key_and_identities_stay_revealable(
    db, config, synced_config, unit, mailbox, make_officer
) -> None:
    admin = _admin(db, config, make_officer)
    before = _submit(mailbox, unit.recipient_set, "before the rotation", "Before")
    result = key_ops.rotate_intake_key(db, admin)
    new_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    assert [r for r in new_set.recipients if r.role == "identity"] == [
        r for r in unit.recipient_set.recipients if r.role == "identity"
    ]
    after = _submit(mailbox, new_set, "after the rotation", "After")
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    run_sync(db, synced_config, supervisor)
    for submitted, name in ((before, "Before"), (after, "After")):
        assert _reveal(db, config, supervisor, submitted.id) == name
        assert b"the rotation" in _reads(supervisor, submitted.blobs["body"])


def test_identity_rotation_grants_the_new_key_to_its_holders_only(
    db, config, synced_config, unit, mailbox, make_officer
) -> None:
    second = make_officer("supervisor")
    analyst = make_officer("analyst")
    admin = _admin(db, config, make_officer)
    before = _submit(mailbox, unit.recipient_set, "before the rotation", "Before")
    old_set = unit.recipient_set

    result = key_ops.rotate_identity_key(db, admin)

    assert sorted(result.granted_to) == sorted([unit.username, second.username])
    [old_id] = [r.key_id for r in old_set.recipients if r.role == "identity"]
    assert result.retired_key_ids == (old_id,)
    new_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    assert new_set.serial == old_set.serial + 1
    assert [r.key_id for r in new_set.recipients if r.role == "identity"] == [result.new_key_id]
    # The intake key is untouched: analysts read new reports as before.
    assert new_set.public_keys() == old_set.public_keys()
    after = _submit(mailbox, new_set, "after the rotation", "After")
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    run_sync(db, synced_config, supervisor)

    for login in (unit, second):
        keyring = unlock(db, login.username, login.passphrase, config.wrap_params)
        assert set(keyring.identity_keys) == {old_id, result.new_key_id}
        assert _reveal(db, config, keyring, before.id) == "Before"
        assert _reveal(db, config, keyring, after.id) == "After"
    analyst_keyring = unlock(db, analyst.username, analyst.passphrase, config.wrap_params)
    assert analyst_keyring.identity_keys == {}
    body = ReportBody.from_json(_reads(analyst_keyring, after.blobs["body"]))
    assert body.description == _body("after the rotation")
    with pytest.raises(NoMatchingRecipient):
        open_bytes(after.blobs["identity"], analyst_keyring.intake_identities())
    assert admin.identity_keys == {}
    held_by_admin = db.scalar(
        select(func.count())
        .select_from(KeyGrant)
        .where(KeyGrant.officer_id == admin.officer_id, KeyGrant.key_id == result.new_key_id)
    )
    assert held_by_admin == 0
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "keys.identity_rotated"))
    assert entry.actor == admin.username and json.loads(entry.details)["retired"] == [old_id]


def test_only_an_admin_rotates_the_identity_key(db, config, unit) -> None:
    supervisor = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    with pytest.raises(PermissionDenied):
        key_ops.rotate_identity_key(db, supervisor)


def test_keys_rotate_identity_on_the_command_line(
    db, config, unit, make_officer, tmp_path, monkeypatch, capsys
) -> None:
    admin = make_officer("admin")
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(config.data_dir))
    monkeypatch.setenv("IBLAGH_DATABASE_URL", config.database_url)
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", admin.passphrase)
    public = tmp_path / "public"
    args = ["keys", "rotate-identity", "--officer", admin.username, "--public-out", str(public)]

    assert main(args) == 0

    out = capsys.readouterr().out
    new_id = out.split("new identity key ", 1)[1].split()[0]
    assert f"granted to: {unit.username}" in out
    verify_key = VerifyKey(base64.b64decode((public / "unit-verify-key").read_text()))
    written = verify_recipient_set((public / "recipient-set.json").read_bytes(), verify_key)
    assert [r.key_id for r in written.recipients if r.role == "identity"] == [new_id]


def test_a_unit_made_before_identity_keys_gets_its_first_one_from_rotate_identity(
    db, config, unit, make_officer
) -> None:
    """Upgrading a data dir made before identity keys: no set can be issued until then."""
    identity_ids = list(db.scalars(select(UnitKey.key_id).where(UnitKey.role == "identity")))
    db.execute(delete(KeyGrant).where(KeyGrant.key_id.in_(identity_ids)))
    db.execute(delete(UnitKey).where(UnitKey.key_id.in_(identity_ids)))
    db.commit()
    second = make_officer("supervisor")
    waiting = make_officer("supervisor", with_keys=False)
    db.execute(
        update(Officer)
        .where(Officer.username == waiting.username)
        .values(must_change_passphrase=True)
    )
    db.commit()
    make_officer("analyst")
    admin = _admin(db, config, make_officer)
    with pytest.raises(KeysNotInitialised, match="rotate-identity"):
        issue_recipient_set(db, admin.signing_key, NOW)  # type: ignore[arg-type]
    db.rollback()

    result = key_ops.rotate_identity_key(db, admin)

    assert result.retired_key_ids == ()
    assert sorted(result.granted_to) == sorted([unit.username, second.username])
    new_set = verify_recipient_set(
        result.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    identity = seal_bytes(b"me", new_set.identity_public_keys(), EnvelopeMetadata(kind="identity"))
    keyring = unlock(db, second.username, second.passphrase, config.wrap_params)
    assert open_bytes(identity, keyring.identity_section_keys())[1] == b"me"


# --- recovery ---------------------------------------------------------------------------------


def test_after_recovery_reports_read_and_identities_reveal_for_supervisors_only(
    db, config, synced_config, unit, mailbox, make_officer, tmp_path
) -> None:
    before = _submit(mailbox, unit.recipient_set, "before the disaster", "Before")
    run_sync(db, synced_config, unlock(db, unit.username, unit.passphrase, config.wrap_params))
    database = Path(config.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:
        connection.execute("DELETE FROM key_grants")
        connection.execute("DELETE FROM officers")
    db.expire_all()

    result = key_ops.recover_unit(
        db,
        unit.init.recovery_secret,
        "rescue",
        "the passphrase chosen on the day of recovery",
        params=config.wrap_params,
        totp_key=load_or_create_totp_key(config.data_dir),
    )
    new_set = verify_recipient_set(result.signed_recipient_set, VerifyKey(result.unit_verify_key))
    assert len(new_set.identity_public_keys()) == 2
    assert set(new_set.identity_public_keys()).isdisjoint(unit.recipient_set.identity_public_keys())
    rescue = unlock(
        db, "rescue", "the passphrase chosen on the day of recovery", config.wrap_params
    )
    # The old recovery key, in service again, opens the old identity section.
    assert len(rescue.recovery_keys) == 1 and len(rescue.identity_keys) == 1
    assert open_bytes(before.blobs["identity"], rescue.identity_section_keys())[1]

    made = {}
    for role, name in (("supervisor", "nadia"), ("analyst", "omar")):
        officers.create_officer(
            db,
            rescue,
            name,
            Role(role),
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
            passphrase=f"a long passphrase chosen after it all ({role})",
        )
        made[role] = unlock(
            db, name, f"a long passphrase chosen after it all ({role})", config.wrap_params
        )
    mailbox.recipient_set = new_set
    after = _submit(mailbox, new_set, "after the disaster", "After")
    run_sync(db, synced_config, made["supervisor"])

    nadia = made["supervisor"]
    assert list(nadia.recovery_keys) == list(rescue.recovery_keys)
    for submitted, name in ((before, "Before"), (after, "After")):
        assert b"the disaster" in _reads(nadia, submitted.blobs["body"])
        assert _reveal(db, config, nadia, submitted.id) == name
    omar = made["analyst"]
    assert omar.recovery_keys == {} and omar.identity_keys == {}
    assert ReportBody.from_json(_reads(omar, after.blobs["body"])).description == _body(
        "after the disaster"
    )
    for submitted in (before, after):
        with pytest.raises(NoMatchingRecipient):
            open_bytes(
                submitted.blobs["identity"],
                [*omar.intake_identities(), *omar.identity_section_keys()],
            )
    recovered = db.scalar(select(AuditEntry).where(AuditEntry.action == "keys.recovered"))
    [new_identity] = [r.key_id for r in new_set.recipients if r.role == "identity"]
    assert json.loads(recovered.details)["new_identity_key"] == new_identity
