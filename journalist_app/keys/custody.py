"""Key custody: who holds which unit secret, and how a login unlocks them.

Each officer has an X25519 key pair whose private half rests only wrapped by their
passphrase. Each unit secret (intake keys, identity keys, signing key, sync key) is
granted to an officer by sealing it to that officer's public key, so a new intake key
can be granted to everyone without their passphrases. Which secrets an officer is
granted follows their role (roles.ROLE_UNIT_KEYS): an admin holds no intake key, and
only a role that may reveal an identity holds an identity key. See docs/keys.md.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import nacl.exceptions
import nacl.pwhash.argon2id
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.errors import CryptoError
from crypto.keys import (
    WRAP_PARAMS_DEFAULT,
    Argon2Params,
    generate_box_key,
    generate_signing_key,
    key_id_hex,
    unwrap_secret,
    wrap_secret,
)
from journalist_app.accounts.passphrase import (
    check_passphrase,
    hash_passphrase,
    spend_dummy_check,
    verify_passphrase,
)
from journalist_app.accounts.totp import Enrolment, enrol, seal_secret
from journalist_app.errors import (
    BadCredentials,
    CorruptGrant,
    InvalidUsername,
    KeysAlreadyInitialised,
    KeysNotInitialised,
    OfficerExists,
)
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.keys.recipient_sets import issue_recipient_set
from journalist_app.models import KeyGrant, Officer, UnitKey
from journalist_app.roles import ROLE_UNIT_KEYS, Permission, Role, requires

# Unit-key roles whose secret is an X25519 key that opens envelopes: intake keys open
# report bodies, identity keys identity sections, a recovery key both. A recovery key
# has a grant only once `keys recover` put it back into service.
BOX_KEY_ROLES = frozenset({"intake", "identity", "recovery"})
ALL_UNIT_KEY_KINDS = frozenset({"intake", "identity", "signing", "sync"})
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class InitResult:
    """What ``keys init`` hands out once: the recovery secret is stored nowhere else."""

    recovery_secret: bytes
    signed_recipient_set: bytes
    unit_verify_key: bytes
    # The first officer's second factor, when a TOTP host key was given.
    totp: Enrolment | None = None

    def __repr__(self) -> str:
        return "InitResult(<recovery secret hidden>)"


def keys_initialised(session: Session) -> bool:
    return session.scalar(select(UnitKey.key_id).limit(1)) is not None


def init_unit_keys(
    session: Session,
    username: str,
    passphrase: str,
    params: Argon2Params,
    now: datetime | None = None,
    *,
    totp_key: bytes | None = None,
) -> InitResult:
    """Create the unit's keys and the first officer, a supervisor granted every secret
    (intake, identity, signing and sync keys).

    The first officer also holds the signing key, so that the unit is never without
    one; admins created before (``admin create``) are granted it too. Commits. The
    recovery key's secret is returned to be printed and is not kept.
    """
    if keys_initialised(session):
        raise KeysAlreadyInitialised("unit keys already exist in this data dir")
    now = now or datetime.now(UTC)
    intake, identity, recovery = generate_box_key(), generate_box_key(), generate_box_key()
    signing, sync = generate_signing_key(), generate_signing_key()
    for role, public in (
        ("intake", bytes(intake.public_key)),
        ("identity", bytes(identity.public_key)),
        ("recovery", bytes(recovery.public_key)),
        ("signing", bytes(signing.verify_key)),
        ("sync", bytes(sync.verify_key)),
    ):
        session.add(_unit_key(role, public, now))
    keyring = UnlockedKeyring(
        username=username,
        intake_keys={key_id_hex(bytes(intake.public_key)): intake},
        identity_keys={key_id_hex(bytes(identity.public_key)): identity},
        signing_key=signing,
        sync_key=sync,
    )
    first, enrolment = new_officer(
        username,
        passphrase,
        params,
        role=Role.SUPERVISOR,
        grants=held_secrets(keyring),
        totp_key=totp_key,
    )
    session.add(first)
    signing_grant = held_secrets(UnlockedKeyring(username=username, signing_key=signing))
    for admin in session.scalars(select(Officer).where(Officer.role == Role.ADMIN.value)):
        admin.grants.extend(seal_grants(admin.public_key, signing_grant))
    signed = issue_recipient_set(session, signing, now)
    session.commit()
    return InitResult(
        recovery_secret=bytes(recovery),
        signed_recipient_set=signed,
        unit_verify_key=bytes(signing.verify_key),
        totp=enrolment,
    )


@requires(Permission.ACCOUNTS_MANAGE)
def add_officer(
    session: Session,
    keyring: UnlockedKeyring,
    username: str,
    passphrase: str,
    params: Argon2Params,
    *,
    role: Role = Role.ANALYST,
    totp_key: bytes | None = None,
) -> Officer:
    """Create an officer, granted what ``keyring`` holds of what ``role`` needs. Commits.

    The account service (accounts.create_officer) wraps this with the audit entry and
    the one-time display of the second factor.
    """
    if not keys_initialised(session):
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    if username_taken(session, username):
        raise OfficerExists(f"an officer named {username!r} already exists")
    officer, _ = new_officer(
        username,
        passphrase,
        params,
        role=role,
        grants=held_secrets(keyring, role),
        totp_key=totp_key,
    )
    session.add(officer)
    session.commit()
    return officer


def unlock(
    session: Session, username: str, passphrase: str, params: Argon2Params = WRAP_PARAMS_DEFAULT
) -> UnlockedKeyring:
    """Check the passphrase, unwrap the officer key and open every grant into memory.

    Raises :class:`BadCredentials` alike for an unknown officer and a wrong passphrase;
    ``params`` is the installation's cost, spent on unknown names too.
    """
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None:
        # Spend the same argon2id time so the answer does not reveal who exists.
        spend_dummy_check(passphrase, params)
        raise BadCredentials("unknown officer or wrong passphrase")
    if not verify_passphrase(officer.password_hash, passphrase):
        raise BadCredentials("unknown officer or wrong passphrase")
    return open_grants(session, officer, unwrap_officer_key(officer, passphrase))


def unwrap_officer_key(officer: Officer, passphrase: str) -> PrivateKey:
    """The officer's private key, for a passphrase already checked against the hash."""
    try:
        officer_key = PrivateKey(unwrap_secret(officer.wrapped_private_key, passphrase))
    except CryptoError as exc:
        raise BadCredentials("unknown officer or wrong passphrase") from exc
    if bytes(officer_key.public_key) != officer.public_key:
        raise CorruptGrant(f"the stored key of {officer.username!r} does not match its public key")
    return officer_key


def open_grants(session: Session, officer: Officer, officer_key: PrivateKey) -> UnlockedKeyring:
    """Open every grant of ``officer`` into a keyring that also names the officer and role."""
    opener = SealedBox(officer_key)
    box_keys: dict[str, dict[str, PrivateKey]] = {role: {} for role in BOX_KEY_ROLES}
    signing_key: SigningKey | None = None
    sync_key: SigningKey | None = None
    rows = session.execute(
        select(KeyGrant, UnitKey)
        .join(UnitKey, KeyGrant.key_id == UnitKey.key_id)
        .where(KeyGrant.officer_id == officer.id)
    )
    for grant, unit_key in rows:
        try:
            secret = opener.decrypt(grant.sealed_secret)
        except nacl.exceptions.CryptoError as exc:
            raise CorruptGrant(f"grant of key {unit_key.key_id} does not open") from exc
        if unit_key.role in BOX_KEY_ROLES:
            box_key = PrivateKey(secret)
            _check_public(unit_key, bytes(box_key.public_key))
            box_keys[unit_key.role][unit_key.key_id] = box_key
        elif unit_key.role in ("signing", "sync"):
            signer = SigningKey(secret)
            _check_public(unit_key, bytes(signer.verify_key))
            if unit_key.role == "signing":
                signing_key = signer
            else:
                sync_key = signer
    return UnlockedKeyring(
        username=officer.username,
        intake_keys=box_keys["intake"],
        identity_keys=box_keys["identity"],
        recovery_keys=box_keys["recovery"],
        signing_key=signing_key,
        sync_key=sync_key,
        officer_id=officer.id,
        role=officer.role,
        session_epoch=officer.session_epoch,
    )


def _check_public(unit_key: UnitKey, derived_public: bytes) -> None:
    # A grant swapped between rows must not silently put the wrong key in use.
    if derived_public != unit_key.public_key:
        raise CorruptGrant(f"grant of key {unit_key.key_id} holds a different key")


def new_officer(
    username: str,
    passphrase: str,
    params: Argon2Params,
    *,
    role: Role,
    grants: Iterable[tuple[str, bytes]] = (),
    totp_key: bytes | None = None,
) -> tuple[Officer, Enrolment | None]:
    """A new account (not yet added): key pair wrapped by ``passphrase``, ``grants``
    sealed to it, and a second factor sealed under ``totp_key`` when one is given."""
    check_username(username)
    check_passphrase(passphrase, username)
    officer_key = generate_box_key()
    officer = Officer(
        username=username,
        role=role.value,
        password_hash=hash_passphrase(passphrase, params),
        public_key=bytes(officer_key.public_key),
        wrapped_private_key=wrap_secret(bytes(officer_key), passphrase, params),
    )
    officer.grants = seal_grants(officer.public_key, grants)
    enrolment = None
    if totp_key is not None:
        enrolment = enrol(username)
        officer.totp_secret_sealed = seal_secret(totp_key, username, enrolment.secret)
    return officer, enrolment


def held_secrets(
    keyring: UnlockedKeyring, role: Role | None = None, *, with_intake: bool = False
) -> list[tuple[str, bytes]]:
    """(key id, secret) of every unit secret ``keyring`` holds that ``role`` needs.

    ``role=None`` means everything held. ``with_intake`` adds the intake keys to a role
    that does not need them: the explicit exception for an admin (never identity keys).
    A recovery key put back into service opens identity sections too, so it goes with
    the identity keys, to the roles that may reveal an identity.
    """
    needed = ROLE_UNIT_KEYS[role] if role is not None else ALL_UNIT_KEY_KINDS
    if with_intake:
        needed = needed | {"intake"}
    secrets: list[tuple[str, bytes]] = []
    if "intake" in needed:
        secrets.extend((kid, bytes(key)) for kid, key in keyring.intake_keys.items())
    if "identity" in needed:
        secrets.extend((kid, bytes(key)) for kid, key in keyring.identity_keys.items())
        secrets.extend((kid, bytes(key)) for kid, key in keyring.recovery_keys.items())
    for unit_role, signer in (("signing", keyring.signing_key), ("sync", keyring.sync_key)):
        if unit_role in needed and signer is not None:
            secrets.append((key_id_hex(bytes(signer.verify_key)), bytes(signer)))
    return secrets


def seal_grants(public_key: bytes, secrets: Iterable[tuple[str, bytes]]) -> list[KeyGrant]:
    """One grant per secret, sealed to ``public_key``: no passphrase needed."""
    sealer = SealedBox(PublicKey(public_key))
    return [KeyGrant(key_id=kid, sealed_secret=sealer.encrypt(secret)) for kid, secret in secrets]


def _unit_key(role: str, public_key: bytes, now: datetime) -> UnitKey:
    return UnitKey(
        key_id=key_id_hex(public_key),
        role=role,
        public_key=public_key,
        created_at=now.astimezone(UTC).replace(tzinfo=None),
    )


def username_taken(session: Session, username: str) -> bool:
    """Taken also by a name that differs only in case: ``DEMO`` beside ``demo`` would read
    as one officer in the audit log and on every page. Usernames are ASCII
    (``check_username``), so SQL's ``lower`` and Python's agree on every engine."""
    same = func.lower(Officer.username) == username.lower()
    return session.scalar(select(Officer.id).where(same).limit(1)) is not None


def check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise InvalidUsername("a username is 1 to 64 letters, digits, dots, dashes or underscores")
