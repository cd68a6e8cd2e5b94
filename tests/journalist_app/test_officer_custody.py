import base64
import json
from pathlib import Path

import pytest
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.keys import key_id_hex, unwrap_secret
from crypto.recipients import verify_recipient_set
from journalist_app.accounts.officers import create_first_admin
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.config import OfficerConfig
from journalist_app.errors import (
    BadCredentials,
    CorruptGrant,
    InvalidUsername,
    KeysAlreadyInitialised,
    OfficerExists,
    PermissionDenied,
    WeakPassphrase,
)
from journalist_app.keys.custody import add_officer, init_unit_keys, unlock
from journalist_app.keys.grants import grant_keys
from journalist_app.models import KeyGrant, Officer, UnitKey
from journalist_app.roles import Role

SECOND = "bob"
SECOND_PASSPHRASE = "the second officer has another passphrase"


def test_recipient_set_verifies_and_names_intake_recovery_and_sync_keys(unit, db: Session) -> None:
    recipient_set = verify_recipient_set(
        unit.init.signed_recipient_set, VerifyKey(unit.init.unit_verify_key)
    )
    assert recipient_set.serial == 1
    keys = {key.role: key.public_key for key in db.scalars(select(UnitKey))}
    assert set(keys) == {"intake", "identity", "recovery", "signing", "sync"}
    roles = {(r.role, r.public_key) for r in recipient_set.recipients}
    assert roles == {
        ("intake", keys["intake"]),
        ("identity", keys["identity"]),
        ("recovery", keys["recovery"]),
    }
    assert recipient_set.sync_verify_keys == (keys["sync"],)
    assert unit.init.unit_verify_key == keys["signing"]
    assert bytes(unit.recovery_key.public_key) == keys["recovery"]


def test_keys_init_refuses_a_second_time(unit, db: Session, config: OfficerConfig) -> None:
    with pytest.raises(KeysAlreadyInitialised):
        init_unit_keys(db, "carol", "carol's long passphrase", config.wrap_params)
    assert len(db.scalars(select(UnitKey)).all()) == 5


def test_no_private_key_rests_unwrapped_anywhere_in_the_data_dir(
    unit, db: Session, config: OfficerConfig
) -> None:
    keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    officer = db.scalar(select(Officer))
    assert officer is not None
    secrets = [
        unit.init.recovery_secret,
        unwrap_secret(officer.wrapped_private_key, unit.passphrase),
        *(bytes(key) for key in keyring.intake_keys.values()),
        bytes(keyring.signing_key),
        bytes(keyring.sync_key),
    ]
    assert len({len(s) for s in secrets}) == 1 and len(secrets) == 5
    db.close()
    forms = [
        form
        for secret in secrets
        for form in (
            secret,
            base64.b64encode(secret),
            base64.urlsafe_b64encode(secret),
            secret.hex().encode(),
            secret.hex().upper().encode(),
        )
    ] + [unit.passphrase.encode(), unit.totp_secret.encode()]
    files = [path for path in config.data_dir.rglob("*") if path.is_file()]
    contents = {path.name: path.read_bytes() for path in files}
    if config.database_url.startswith("sqlite"):
        assert any(path.suffix == ".sqlite3" for path in files)
    else:  # PostgreSQL keeps its files elsewhere: every value of every row instead
        contents["the database's rows"] = _every_value(config.database_url)
    for name, content in contents.items():
        for form in forms:
            assert form not in content, f"{name} holds a secret in the clear"


def _every_value(database_url: str) -> bytes:
    from sqlalchemy import create_engine

    from journalist_app.models import Base

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return b"\n".join(
                value if isinstance(value, bytes) else str(value).encode()
                for table in Base.metadata.sorted_tables
                for row in connection.execute(select(table))
                for value in row
            )
    finally:
        engine.dispose()


def test_wrong_passphrase_and_unknown_officer_fail_alike(unit, db, config) -> None:
    with pytest.raises(BadCredentials) as wrong:
        unlock(db, unit.username, "not the passphrase at all", config.wrap_params)
    with pytest.raises(BadCredentials) as unknown:
        unlock(db, "mallory", unit.passphrase, config.wrap_params)
    assert str(wrong.value) == str(unknown.value)


def test_unlock_opens_every_granted_key(unit, db, config) -> None:
    keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    intake = db.scalar(select(UnitKey).where(UnitKey.role == "intake"))
    assert intake is not None
    assert list(keyring.intake_keys) == [intake.key_id]
    assert bytes(keyring.intake_keys[intake.key_id].public_key) == intake.public_key
    assert keyring.signing_key is not None and keyring.sync_key is not None
    assert "keys hidden" in repr(keyring)


def _admin(db, config, unit):
    """An admin (holding the signing key only), made with the first officer's grant."""
    first = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    create_first_admin(
        db,
        "root",
        "the admin's long passphrase",
        params=config.wrap_params,
        totp_key=load_or_create_totp_key(config.data_dir),
        granter=first,
    )
    return first, unlock(db, "root", "the admin's long passphrase", config.wrap_params)


def test_an_admin_adds_an_analyst_and_a_key_holder_grants_the_intake_key(unit, db, config):
    first, admin = _admin(db, config, unit)
    assert admin.intake_keys == {} and admin.sync_key is None
    assert admin.signing_key == first.signing_key
    add_officer(db, admin, SECOND, SECOND_PASSPHRASE, config.wrap_params, role=Role.ANALYST)
    envelope = seal_bytes(b"report text", unit.recipient_set.public_keys(), _report_metadata())
    # The admin held no intake key to give: the analyst reads nothing yet.
    waiting = unlock(db, SECOND, SECOND_PASSPHRASE, config.wrap_params)
    assert waiting.intake_identities() == [] and waiting.role == "analyst"

    grant_keys(db, first, SECOND)
    second = unlock(db, SECOND, SECOND_PASSPHRASE, config.wrap_params)

    assert open_bytes(envelope, second.intake_identities())[1] == b"report text"
    assert second.sync_key == first.sync_key
    assert second.signing_key is None, "an analyst holds no signing key"
    with pytest.raises(BadCredentials):
        unlock(db, SECOND, unit.passphrase, config.wrap_params)


def test_only_an_admin_adds_officers(unit, db, config) -> None:
    first = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    with pytest.raises(PermissionDenied):
        add_officer(db, first, SECOND, SECOND_PASSPHRASE, config.wrap_params)
    assert db.scalars(select(Officer.username)).all() == [unit.username]


def test_adding_an_officer_twice_or_badly_is_refused(unit, db, config) -> None:
    _, keyring = _admin(db, config, unit)
    with pytest.raises(OfficerExists):
        add_officer(db, keyring, unit.username, SECOND_PASSPHRASE, config.wrap_params)
    with pytest.raises(OfficerExists):
        add_officer(db, keyring, unit.username.upper(), SECOND_PASSPHRASE, config.wrap_params)
    with pytest.raises(WeakPassphrase):
        add_officer(db, keyring, SECOND, "short", config.wrap_params)
    with pytest.raises(InvalidUsername):
        add_officer(db, keyring, "bob/../../etc", SECOND_PASSPHRASE, config.wrap_params)
    assert sorted(db.scalars(select(Officer.username)).all()) == [unit.username, "root"]


def test_recovery_secret_opens_a_report_sealed_to_the_recipient_set(unit) -> None:
    envelope = seal_bytes(b"for the safe", unit.recipient_set.public_keys(), _report_metadata())
    assert open_bytes(envelope, [unit.recovery_key])[1] == b"for the safe"


def test_a_grant_that_holds_another_key_is_refused(unit, db, config) -> None:
    officer = db.scalar(select(Officer))
    intake = db.scalar(select(UnitKey).where(UnitKey.role == "intake"))
    grant = db.scalar(select(KeyGrant).where(KeyGrant.key_id == intake.key_id))
    # Someone with write access to the database swaps in a key of their own.
    grant.sealed_secret = SealedBox(PublicKey(officer.public_key)).encrypt(
        bytes(PrivateKey.generate())
    )
    db.commit()
    with pytest.raises(CorruptGrant):
        unlock(db, unit.username, unit.passphrase, config.wrap_params)


def test_wrapped_officer_key_records_its_argon2_cost(unit, db, config) -> None:
    officer = db.scalar(select(Officer))
    document = json.loads(officer.wrapped_private_key)
    assert document["memlimit"] == config.wrap_params.memlimit
    assert key_id_hex(officer.public_key) not in {k.key_id for k in db.scalars(select(UnitKey))}


def test_keys_init_writes_nothing_but_the_database_and_the_totp_key(unit, config) -> None:
    names = sorted(p.name for p in Path(config.data_dir).iterdir())
    database = ["officer.sqlite3"] if config.database_url.startswith("sqlite") else []
    assert names == sorted([*database, "totp-key"])
    assert (Path(config.data_dir) / "totp-key").stat().st_mode & 0o777 == 0o600


def _report_metadata() -> EnvelopeMetadata:
    return EnvelopeMetadata(kind="report", content_type="application/json")
