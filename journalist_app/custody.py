"""Key custody: who holds which unit secret, and how a login unlocks them.

Each officer has an X25519 key pair whose private half rests only wrapped by their
passphrase. Each unit secret (intake keys, signing key, sync key) is granted to an
officer by sealing it to that officer's public key, so a new intake key can be granted
to everyone without their passphrases. See docs/keys.md.
"""

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import nacl.exceptions
import nacl.pwhash.argon2id
from nacl.public import PrivateKey, SealedBox
from nacl.signing import SigningKey
from sqlalchemy import select
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
from journalist_app.errors import (
    BadCredentials,
    CorruptGrant,
    InvalidUsername,
    KeysAlreadyInitialised,
    KeysNotInitialised,
    OfficerExists,
    WeakPassphrase,
)
from journalist_app.keyring import UnlockedKeyring
from journalist_app.models import KeyGrant, Officer, UnitKey
from journalist_app.recipient_sets import issue_recipient_set

MIN_PASSPHRASE_LENGTH = 12
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class InitResult:
    """What ``keys init`` hands out once: the recovery secret is stored nowhere else."""

    recovery_secret: bytes
    signed_recipient_set: bytes
    unit_verify_key: bytes

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
) -> InitResult:
    """Create the unit's keys and the first officer, who is granted every secret.

    Commits. The recovery key's secret is returned to be printed and is not kept.
    """
    if keys_initialised(session):
        raise KeysAlreadyInitialised("unit keys already exist in this data dir")
    now = now or datetime.now(UTC)
    intake, recovery = generate_box_key(), generate_box_key()
    signing, sync = generate_signing_key(), generate_signing_key()
    for role, public in (
        ("intake", bytes(intake.public_key)),
        ("recovery", bytes(recovery.public_key)),
        ("signing", bytes(signing.verify_key)),
        ("sync", bytes(sync.verify_key)),
    ):
        session.add(_unit_key(role, public, now))
    keyring = UnlockedKeyring(
        username=username,
        intake_keys={key_id_hex(bytes(intake.public_key)): intake},
        signing_key=signing,
        sync_key=sync,
    )
    session.add(_new_officer(username, passphrase, params, keyring))
    signed = issue_recipient_set(session, signing, now)
    session.commit()
    return InitResult(
        recovery_secret=bytes(recovery),
        signed_recipient_set=signed,
        unit_verify_key=bytes(signing.verify_key),
    )


def add_officer(
    session: Session,
    keyring: UnlockedKeyring,
    username: str,
    passphrase: str,
    params: Argon2Params,
) -> Officer:
    """Create an officer and grant them every secret ``keyring`` holds. Commits."""
    if not keys_initialised(session):
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    if session.scalar(select(Officer.id).where(Officer.username == username)) is not None:
        raise OfficerExists(f"an officer named {username!r} already exists")
    officer = _new_officer(username, passphrase, params, keyring)
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
        _verify_password(_dummy_hash(params.opslimit, params.memlimit), passphrase)
        raise BadCredentials("unknown officer or wrong passphrase")
    if not _verify_password(officer.password_hash, passphrase):
        raise BadCredentials("unknown officer or wrong passphrase")
    try:
        officer_key = PrivateKey(unwrap_secret(officer.wrapped_private_key, passphrase))
    except CryptoError as exc:
        raise BadCredentials("unknown officer or wrong passphrase") from exc
    if bytes(officer_key.public_key) != officer.public_key:
        raise CorruptGrant(f"the stored key of {username!r} does not match its public key")
    return _open_grants(session, officer, officer_key)


def _open_grants(session: Session, officer: Officer, officer_key: PrivateKey) -> UnlockedKeyring:
    opener = SealedBox(officer_key)
    intake_keys: dict[str, PrivateKey] = {}
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
        if unit_key.role == "intake":
            box_key = PrivateKey(secret)
            _check_public(unit_key, bytes(box_key.public_key))
            intake_keys[unit_key.key_id] = box_key
        elif unit_key.role in ("signing", "sync"):
            signer = SigningKey(secret)
            _check_public(unit_key, bytes(signer.verify_key))
            if unit_key.role == "signing":
                signing_key = signer
            else:
                sync_key = signer
    return UnlockedKeyring(
        username=officer.username,
        intake_keys=intake_keys,
        signing_key=signing_key,
        sync_key=sync_key,
    )


def _check_public(unit_key: UnitKey, derived_public: bytes) -> None:
    # A grant swapped between rows must not silently put the wrong key in use.
    if derived_public != unit_key.public_key:
        raise CorruptGrant(f"grant of key {unit_key.key_id} holds a different key")


def _new_officer(
    username: str, passphrase: str, params: Argon2Params, keyring: UnlockedKeyring
) -> Officer:
    check_username(username)
    check_passphrase(passphrase)
    officer_key = generate_box_key()
    officer = Officer(
        username=username,
        password_hash=nacl.pwhash.argon2id.str(
            passphrase.encode("utf-8"), opslimit=params.opslimit, memlimit=params.memlimit
        ),
        public_key=bytes(officer_key.public_key),
        wrapped_private_key=wrap_secret(bytes(officer_key), passphrase, params),
    )
    sealer = SealedBox(officer_key.public_key)
    secrets: list[tuple[str, bytes]] = [(kid, bytes(k)) for kid, k in keyring.intake_keys.items()]
    for signer in (keyring.signing_key, keyring.sync_key):
        if signer is not None:
            secrets.append((key_id_hex(bytes(signer.verify_key)), bytes(signer)))
    officer.grants = [
        KeyGrant(key_id=kid, sealed_secret=sealer.encrypt(secret)) for kid, secret in secrets
    ]
    return officer


def _unit_key(role: str, public_key: bytes, now: datetime) -> UnitKey:
    return UnitKey(
        key_id=key_id_hex(public_key),
        role=role,
        public_key=public_key,
        created_at=now.astimezone(UTC).replace(tzinfo=None),
    )


def check_username(username: str) -> None:
    if not _USERNAME.fullmatch(username):
        raise InvalidUsername("a username is 1 to 64 letters, digits, dots, dashes or underscores")


def check_passphrase(passphrase: str) -> None:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(f"a passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")


def _verify_password(password_hash: bytes, passphrase: str) -> bool:
    try:
        return bool(nacl.pwhash.argon2id.verify(password_hash, passphrase.encode("utf-8")))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError):
        return False


@functools.cache
def _dummy_hash(opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.str(b"no such officer", opslimit=opslimit, memlimit=memlimit)
