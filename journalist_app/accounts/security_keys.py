"""Security keys (WebAuthn, py_webauthn): a second factor beside TOTP, and passwordless
login with the key and its PIN.

**Second factor.** Username and passphrase, then an assertion from one of the officer's
registered keys instead of the six-digit code (accounts/login.py). The passphrase unwraps
the officer key as always.

**Passwordless, with a PIN.** A login must unlock the officer's X25519 key, which rests
wrapped by the passphrase (docs/keys.md). Without the passphrase, something else must open
it: the authenticator's PRF extension (CTAP2 ``hmac-secret``). At registration the browser
evaluates the credential's PRF on a fixed salt, after the PIN, and sends the 32-byte output
with the officer's passphrase; the server derives a key from it (BLAKE2b, keyed) and puts a
second copy of the officer key in a secretbox under it, on the credential's row. At login
the browser evaluates the PRF again (PIN required) and the server opens that copy. The PRF
output is never stored; only the authenticator can make it again, and only after its PIN.
A key whose authenticator has no PRF is a second factor only.

Every registration requires user verification (a PIN or biometric) and a resident
(discoverable) credential, so one button logs in without typing a username. Every ceremony
has a fresh challenge, good once (``webauthn_used_challenges``), for five minutes. The
relying party is the host name the officer's browser used (``RelyingParty``); the
credential's own ``rp_id`` must match it at every use.

A passphrase change or reset gives the account a new key pair: the passwordless copies
then open an old key, so they are dropped and each key is a second factor until it is
registered again. A second-factor reset removes the account's security keys.
"""

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import nacl.exceptions
import nacl.hash
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey
from nacl.secret import SecretBox
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from journalist_app import audit
from journalist_app.accounts import throttle
from journalist_app.accounts.login import refuse_if_locked
from journalist_app.accounts.passphrase import verify_passphrase
from journalist_app.clock import utc_now
from journalist_app.errors import BadCredentials, CorruptGrant, OfficerNotFound
from journalist_app.keys.custody import unwrap_officer_key
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer
from journalist_app.models.officer import SecurityKey, UsedChallenge
from journalist_app.roles import Permission, requires

RP_NAME = "Iblagh"
# What the PRF is evaluated on: fixed, since the credential's own secret differs anyway.
PRF_SALT = hashlib.sha256(b"iblagh-officer-prf/1").digest()
PRF_OUTPUT_BYTES = 32
CHALLENGE_LIFETIME = timedelta(minutes=5)
CEREMONY_TIMEOUT_MS = 120_000
MAX_NAME_LENGTH = 64
_WRAP_DOMAIN = b"iblagh-officer-key-under-prf/1\n"
_ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]


class SecurityKeyRefused(BadCredentials):
    """An answer from a security key did not verify: wrong origin, challenge, signature,
    counter, PIN not given, or an unknown or foreign credential."""


class SecurityKeyNameInvalid(ValueError):
    """A security key's name is 1 to 64 printable characters."""


@dataclass(frozen=True)
class RelyingParty:
    """Whom the browser signs for: the host name it used, and the origins allowed."""

    rp_id: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class Ceremony:
    """A challenge handed to the browser, and when (it is good for five minutes, once)."""

    challenge: bytes
    issued_at: datetime


def new_ceremony(now: datetime | None = None) -> Ceremony:
    return Ceremony(challenge=secrets.token_bytes(32), issued_at=now or utc_now())


def user_handle(officer: Officer) -> bytes:
    """The account's WebAuthn user handle: stable, opaque, naming nobody."""
    return hashlib.sha256(b"iblagh-webauthn-user/1\n" + str(officer.id).encode()).digest()[:16]


def registration_options(
    session: Session, keyring: UnlockedKeyring, rp: RelyingParty, ceremony: Ceremony
) -> str:
    """``navigator.credentials.create`` options as JSON: a discoverable credential, PIN required."""
    officer = _officer(session, keyring)
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=officer.username,
        user_id=user_handle(officer),
        user_display_name=officer.username,
        challenge=ceremony.challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=key.credential_id)
            for key in keys_of(session, officer.id)
        ],
        supported_pub_key_algs=_ALGORITHMS,
    )
    return str(options_to_json(options))


def authentication_options(rp: RelyingParty, ceremony: Ceremony) -> str:
    """``navigator.credentials.get`` options as JSON: any of this host's keys, PIN required."""
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=ceremony.challenge,
        timeout=CEREMONY_TIMEOUT_MS,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return str(options_to_json(options))


def keys_of(session: Session, officer_id: int) -> list[SecurityKey]:
    return list(
        session.scalars(
            select(SecurityKey).where(SecurityKey.officer_id == officer_id).order_by(SecurityKey.id)
        )
    )


@requires(Permission.SESSION)
def register_key(
    session: Session,
    keyring: UnlockedKeyring,
    *,
    name: str,
    passphrase: str,
    registration: str,
    prf_output: bytes | None,
    ceremony: Ceremony,
    rp: RelyingParty,
    client: str,
    now: datetime | None = None,
) -> SecurityKey:
    """Add a security key to the logged-in officer's account; commits.

    The current passphrase is asked again (a borrowed open session must not add a way in),
    and counts as a guess when wrong. With ``prf_output`` the key can also log in alone,
    with its PIN: the officer key is wrapped under it.
    """
    now = now or utc_now()
    officer = _officer(session, keyring)
    refuse_if_locked(session, officer, client, now, via="security_key")
    if not verify_passphrase(officer.password_hash, passphrase):
        throttle.register_failure(session, officer, client, now, "passphrase", via="security_key")
        session.commit()
        raise BadCredentials("the current passphrase is wrong")
    label = _clean_name(name)
    try:
        verified = verify_registration_response(
            credential=registration,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            require_user_verification=True,
            supported_pub_key_algs=_ALGORITHMS,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRefused(f"the security key's answer did not verify: {exc}") from None
    if session.scalar(
        select(SecurityKey.id).where(SecurityKey.credential_id == verified.credential_id)
    ):
        raise SecurityKeyRefused("this security key is registered already")
    claim_challenge(session, ceremony, now)
    wrapped = None
    if prf_output is not None:
        officer_key = unwrap_officer_key(officer, passphrase)
        box = SecretBox(_wrap_key(prf_output, verified.credential_id, officer))
        wrapped = bytes(box.encrypt(bytes(officer_key)))
    key = SecurityKey(
        officer_id=officer.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=label,
        rp_id=rp.rp_id,
        created_at=now,
        wrapped_private_key=wrapped,
    )
    session.add(key)
    audit.record(
        session,
        keyring,
        audit.Action.SECURITY_KEY_REGISTERED,
        audit.officer_target(officer.username),
        {
            "key": _credential_label(verified.credential_id),
            "name": label,
            "passwordless": wrapped is not None,
            "aaguid": verified.aaguid,
        },
        now=now,
    )
    session.commit()
    return key


@requires(Permission.SESSION)
def remove_key(
    session: Session, keyring: UnlockedKeyring, key_id: int, *, now: datetime | None = None
) -> str:
    """Remove one of the logged-in officer's own security keys; returns its name. Commits."""
    officer = _officer(session, keyring)
    key = session.get(SecurityKey, key_id)
    if key is None or key.officer_id != officer.id:
        raise OfficerNotFound("no such security key on your account")
    name = key.name
    session.delete(key)
    audit.record(
        session,
        keyring,
        audit.Action.SECURITY_KEY_REMOVED,
        audit.officer_target(officer.username),
        {"key": _credential_label(key.credential_id), "name": name},
        now=now,
    )
    session.commit()
    return name


def remove_all(session: Session, officer: Officer) -> int:
    """Drop every security key of ``officer`` (a second-factor reset); not committed."""
    result = session.execute(delete(SecurityKey).where(SecurityKey.officer_id == officer.id))
    return int(getattr(result, "rowcount", 0) or 0)


def forget_passwordless(session: Session, officer: Officer) -> None:
    """The officer key changed: the copies wrapped under PRF outputs open the old one."""
    for key in keys_of(session, officer.id):
        key.wrapped_private_key = None


def credential_of(session: Session, assertion: str) -> SecurityKey | None:
    """The registered key an assertion names, if any (nothing is verified yet)."""
    try:
        raw_id = base64url_to_bytes(str(json.loads(assertion)["rawId"]))
    except (ValueError, KeyError, TypeError):
        return None
    return session.scalar(select(SecurityKey).where(SecurityKey.credential_id == raw_id))


def check_assertion(
    session: Session,
    key: SecurityKey,
    assertion: str,
    ceremony: Ceremony,
    rp: RelyingParty,
    now: datetime,
) -> None:
    """Verify ``assertion`` from ``key`` (PIN given, counter moved forward) and spend the
    challenge; :class:`SecurityKeyRefused` otherwise. Not committed."""
    if key.rp_id != rp.rp_id:
        raise SecurityKeyRefused("this security key was registered for another host name")
    try:
        verified = verify_authentication_response(
            credential=assertion,
            expected_challenge=ceremony.challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRefused(f"the security key's answer did not verify: {exc}") from None
    claim_challenge(session, ceremony, now)
    key.sign_count = verified.new_sign_count
    key.last_used_at = now


def officer_key_from_prf(key: SecurityKey, officer: Officer, prf_output: bytes) -> PrivateKey:
    """Open the officer key wrapped under the PRF output; :class:`SecurityKeyRefused` if not."""
    if key.wrapped_private_key is None:
        raise SecurityKeyRefused("this security key is a second factor only")
    try:
        box = SecretBox(_wrap_key(prf_output, key.credential_id, officer))
        officer_key = PrivateKey(box.decrypt(key.wrapped_private_key))
    except (nacl.exceptions.CryptoError, ValueError) as exc:
        raise SecurityKeyRefused("the security key's PRF output does not open the key") from exc
    if bytes(officer_key.public_key) != officer.public_key:
        raise CorruptGrant(f"the key wrapped for {officer.username!r} is not their key")
    return officer_key


def claim_challenge(session: Session, ceremony: Ceremony, now: datetime) -> None:
    """Spend a challenge: refused when too old or already answered (a replay)."""
    if not ceremony.issued_at <= now <= ceremony.issued_at + CHALLENGE_LIFETIME:
        raise SecurityKeyRefused("the security key's challenge expired: try again")
    session.execute(
        delete(UsedChallenge).where(UsedChallenge.used_at < now - 2 * CHALLENGE_LIFETIME)
    )
    digest = hashlib.sha256(ceremony.challenge).hexdigest()
    try:
        with session.begin_nested():
            session.add(UsedChallenge(challenge_hash=digest, used_at=now))
    except IntegrityError:
        raise SecurityKeyRefused("this security key answer was used already") from None


def decode_prf(value: str) -> bytes | None:
    """The PRF output the browser sent (base64url of 32 bytes), or None."""
    if not value:
        return None
    try:
        raw = base64url_to_bytes(value)
    except ValueError:
        return None
    return raw if len(raw) == PRF_OUTPUT_BYTES else None


def prf_salt_b64url() -> str:
    return str(bytes_to_base64url(PRF_SALT))


def _wrap_key(prf_output: bytes, credential_id: bytes, officer: Officer) -> bytes:
    if len(prf_output) != PRF_OUTPUT_BYTES:
        raise SecurityKeyRefused("a PRF output is 32 bytes")
    context = (
        _WRAP_DOMAIN
        + officer.username.encode("utf-8")
        + b"\n"
        + hashlib.sha256(credential_id).digest()
    )
    derived: bytes = nacl.hash.blake2b(
        context, digest_size=SecretBox.KEY_SIZE, key=prf_output, encoder=RawEncoder
    )
    return derived


def _clean_name(name: str) -> str:
    label = " ".join(name.split())
    if not 1 <= len(label) <= MAX_NAME_LENGTH or not label.isprintable():
        raise SecurityKeyNameInvalid("a security key's name is 1 to 64 printable characters")
    return label


def _credential_label(credential_id: bytes) -> str:
    """How the audit log names a credential: a short hash, the same at every use."""
    return hashlib.sha256(credential_id).hexdigest()[:16]


def _officer(session: Session, keyring: UnlockedKeyring) -> Officer:
    officer = session.get(Officer, keyring.officer_id) if keyring.officer_id else None
    if officer is None:
        raise OfficerNotFound(f"no officer named {keyring.username!r}")
    return officer
