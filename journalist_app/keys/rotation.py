"""Operations on the unit's keys: recipient sets, intake- and identity-key rotation,
recovery.

Rotation needs no one's passphrase but the admin's: the new key is sealed to the public
key of every officer who held the old one. Recovery needs only the recovery secret kept
in the safe. See docs/keys.md.
"""

import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.keys import Argon2Params, generate_box_key, generate_signing_key, key_id_hex
from journalist_app import audit
from journalist_app.accounts.totp import Enrolment
from journalist_app.errors import KeysNotInitialised, MissingKey, OfficerExists, RecoveryFailed
from journalist_app.keys.custody import check_username, new_officer, seal_grants, username_taken
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.keys.recipient_sets import active_keys, issue_recipient_set
from journalist_app.models import KeyGrant, Officer, UnitKey
from journalist_app.roles import Permission, Role, requires


@dataclass(frozen=True)
class RotationResult:
    new_key_id: str
    retired_key_ids: tuple[str, ...]
    granted_to: tuple[str, ...]
    signed_recipient_set: bytes


@dataclass(frozen=True)
class RecoveryResult:
    """What ``keys recover`` hands out once: a new recovery secret and a new verify key."""

    admin: str
    enrolment: Enrolment | None
    new_recovery_secret: bytes
    signed_recipient_set: bytes
    unit_verify_key: bytes

    def __repr__(self) -> str:
        return f"RecoveryResult(admin={self.admin!r}, <secrets hidden>)"


@requires(Permission.KEYS_MANAGE)
def issue_public_files(
    session: Session, keyring: UnlockedKeyring, now: datetime | None = None
) -> bytes:
    """Sign a new recipient set (next serial) from the current keys. Commits."""
    if keyring.signing_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no unit signing key")
    now = _aware(now)
    signed = issue_recipient_set(session, keyring.signing_key, now)
    audit.record(session, keyring, audit.Action.RECIPIENT_SET_ISSUED, "", {}, now=now)
    session.commit()
    return signed


@requires(Permission.KEYS_MANAGE)
def rotate_intake_key(
    session: Session, keyring: UnlockedKeyring, now: datetime | None = None
) -> RotationResult:
    """A new intake key for every officer who held the current one; the old one retires.

    Old reports stay readable: retired keys keep their grants. New reports are sealed to
    the new key once the public host runs the new recipient set; the identity key stays
    as it is. Commits.
    """
    return _rotate(session, keyring, "intake", audit.Action.KEYS_ROTATED, _aware(now))


@requires(Permission.KEYS_MANAGE)
def rotate_identity_key(
    session: Session, keyring: UnlockedKeyring, now: datetime | None = None
) -> RotationResult:
    """A new identity key for every officer who held the current one; the old one retires.

    Old identity sections stay revealable: retired keys keep their grants. New ones are
    sealed to the new key once the public host runs the new recipient set; the intake
    key stays as it is. On a unit made before identity keys existed (none yet), this
    creates the first one and grants it to every supervisor past their one-time
    passphrase: the role that may reveal (roles.ROLE_UNIT_KEYS). Commits.
    """
    return _rotate(session, keyring, "identity", audit.Action.IDENTITY_KEY_ROTATED, _aware(now))


def _rotate(
    session: Session, keyring: UnlockedKeyring, role: str, action: str, now: datetime
) -> RotationResult:
    if keyring.signing_key is None:
        raise MissingKey(f"officer {keyring.username!r} holds no unit signing key")
    current = active_keys(session, role)
    if role == "intake" and not current:
        raise KeysNotInitialised("the unit has no intake key: run 'iblagh-officer keys init'")
    current_ids = [key.key_id for key in current]
    holders_query = select(Officer).order_by(Officer.username)
    if current:
        held = select(KeyGrant.officer_id).where(KeyGrant.key_id.in_(current_ids))
        holders_query = holders_query.where(Officer.id.in_(held))
    else:
        # The first identity key of a unit made before they existed: to the revealers.
        holders_query = holders_query.where(
            Officer.role == Role.SUPERVISOR.value, Officer.must_change_passphrase.is_(False)
        )
    holders = list(session.scalars(holders_query))
    if not holders:
        raise MissingKey(
            f"no officer holds the current {role} key: a new one would be granted to nobody "
            "(use 'iblagh-officer keys recover')"
        )
    new_key = generate_box_key()
    new_id = key_id_hex(bytes(new_key.public_key))
    session.add(_unit_key(role, bytes(new_key.public_key), now))
    session.flush()
    for holder in holders:
        holder.grants.extend(_seal(holder, new_id, new_key))
    for key in current:
        key.retired_at = _naive(now)
    signed = issue_recipient_set(session, keyring.signing_key, now)
    audit.record(
        session,
        keyring,
        action,
        audit.key_target(new_id),
        {"retired": current_ids, "granted_to": [o.username for o in holders]},
        now=now,
    )
    session.commit()
    return RotationResult(
        new_key_id=new_id,
        retired_key_ids=tuple(current_ids),
        granted_to=tuple(o.username for o in holders),
        signed_recipient_set=signed,
    )


def parse_recovery_secret(text: str) -> bytes:
    """The base64 secret ``keys init`` printed (a ``recovery secret:`` prefix is fine)."""
    value = text.strip().rpartition(":")[2].strip() if ":" in text else text.strip()
    try:
        secret = binascii.a2b_base64(value.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RecoveryFailed("the recovery secret is not base64") from exc
    if len(secret) != 32:
        raise RecoveryFailed("the recovery secret is 32 bytes in base64")
    return secret


def recover_unit(
    session: Session,
    recovery_secret: bytes,
    admin_username: str,
    passphrase: str,
    *,
    params: Argon2Params,
    totp_key: bytes,
    now: datetime | None = None,
) -> RecoveryResult:
    """When every officer is lost: a new admin who reads old reports with the recovery key.

    The recovery key is a recipient of every report body and identity section, so
    granting it to a new admin makes every stored report readable, and every identity
    revealable, again; it is handed on with the identity keys (to supervisors), since
    it opens identities. The old intake, identity, signing and sync keys are lost with
    the officers: they retire, and new ones are made, with a new recovery key (the old
    one has now been typed into this host) and a recipient set signed by the new signing
    key. The public host must be given the new unit verify key: it pins the old one.
    Commits.
    """
    now = _aware(now)
    recovery = PrivateKey(recovery_secret)
    current = active_keys(session, "recovery")
    if len(current) != 1:
        raise KeysNotInitialised("this data dir has no recovery key: nothing to recover")
    if current[0].public_key != bytes(recovery.public_key):
        raise RecoveryFailed("this is not the unit's recovery secret")
    check_username(admin_username)
    if username_taken(session, admin_username):
        raise OfficerExists(f"an officer named {admin_username!r} already exists")
    for role in ("intake", "identity", "signing", "sync", "recovery"):
        for key in active_keys(session, role):
            key.retired_at = _naive(now)
    intake, identity, new_recovery = generate_box_key(), generate_box_key(), generate_box_key()
    signing, sync = generate_signing_key(), generate_signing_key()
    for role, public in (
        ("intake", bytes(intake.public_key)),
        ("identity", bytes(identity.public_key)),
        ("recovery", bytes(new_recovery.public_key)),
        ("signing", bytes(signing.verify_key)),
        ("sync", bytes(sync.verify_key)),
    ):
        session.add(_unit_key(role, public, now))
    session.flush()
    # The new admin holds everything until they hand it on: nobody else is left.
    grants = [
        (current[0].key_id, bytes(recovery)),
        (key_id_hex(bytes(intake.public_key)), bytes(intake)),
        (key_id_hex(bytes(identity.public_key)), bytes(identity)),
        (key_id_hex(bytes(signing.verify_key)), bytes(signing)),
        (key_id_hex(bytes(sync.verify_key)), bytes(sync)),
    ]
    admin, enrolment = new_officer(
        admin_username, passphrase, params, role=Role.ADMIN, grants=grants, totp_key=totp_key
    )
    session.add(admin)
    signed = issue_recipient_set(session, signing, now)
    audit.record(
        session,
        admin_username,
        audit.Action.KEYS_RECOVERED,
        audit.officer_target(admin_username),
        {
            "recovery_key": current[0].key_id,
            "new_signing_key": key_id_hex(bytes(signing.verify_key)),
            "new_intake_key": key_id_hex(bytes(intake.public_key)),
            "new_identity_key": key_id_hex(bytes(identity.public_key)),
        },
        now=now,
    )
    session.commit()
    return RecoveryResult(
        admin=admin_username,
        enrolment=enrolment,
        new_recovery_secret=bytes(new_recovery),
        signed_recipient_set=signed,
        unit_verify_key=bytes(signing.verify_key),
    )


def _seal(officer: Officer, key_id: str, key: PrivateKey) -> list[KeyGrant]:
    return seal_grants(officer.public_key, [(key_id, bytes(key))])


def _unit_key(role: str, public_key: bytes, now: datetime) -> UnitKey:
    return UnitKey(
        key_id=key_id_hex(public_key), role=role, public_key=public_key, created_at=_naive(now)
    )


def _aware(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
