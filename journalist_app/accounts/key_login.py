"""Logging in with a security key: as the second factor after the passphrase, or alone
with its PIN (passwordless). The same throttle, audit and keyring as accounts/login.py."""

from datetime import datetime
from typing import NoReturn

from sqlalchemy.orm import Session

from crypto.keys import Argon2Params
from journalist_app import audit
from journalist_app.accounts import security_keys, throttle
from journalist_app.accounts.login import officer_to_try, refuse_if_locked, succeed
from journalist_app.accounts.passphrase import verify_passphrase
from journalist_app.accounts.security_keys import Ceremony, RelyingParty, SecurityKeyRefused
from journalist_app.clock import utc_now
from journalist_app.errors import BadCredentials, WrongSecondFactor
from journalist_app.keys.custody import open_grants, unwrap_officer_key
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer

_FAILED = "unknown officer, wrong passphrase or security key"


def log_in_with_security_key(
    session: Session,
    username: str,
    passphrase: str,
    assertion: str,
    *,
    ceremony: Ceremony,
    rp: RelyingParty,
    params: Argon2Params,
    client: str,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """Passphrase, then an assertion from one of ``username``'s security keys (PIN given).

    Every failure is :class:`BadCredentials` with one message; commits what login commits.
    """
    now = now or utc_now()
    officer = officer_to_try(session, username, passphrase, params, now, client, via="web")
    if not verify_passphrase(officer.password_hash, passphrase):
        _fail(session, officer, client, now, "passphrase")
    key = security_keys.credential_of(session, assertion)
    if key is None or key.officer_id != officer.id:
        _fail(session, officer, client, now, "security_key_unknown")
    try:
        security_keys.check_assertion(session, key, assertion, ceremony, rp, now)
    except SecurityKeyRefused:
        _fail(session, officer, client, now, "security_key")
    keyring = open_grants(session, officer, unwrap_officer_key(officer, passphrase))
    succeed(
        session,
        officer,
        client,
        now,
        audit.Action.LOGIN,
        {"via": "web", "factor": "security_key"},
    )
    return keyring


def log_in_passwordless(
    session: Session,
    assertion: str,
    prf_output: bytes | None,
    *,
    ceremony: Ceremony,
    rp: RelyingParty,
    client: str,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """A security key alone, with its PIN: the PRF output opens the officer key.

    The credential names the account (a discoverable credential). Failures count against
    that account from this client, like a wrong passphrase.
    """
    now = now or utc_now()
    key = security_keys.credential_of(session, assertion)
    officer = session.get(Officer, key.officer_id) if key is not None else None
    if key is None or officer is None:
        audit.record(
            session,
            None,
            audit.Action.LOGIN_FAILED,
            "",
            {"reason": "security_key_unknown", "via": "web"},
            now=now,
        )
        session.commit()
        raise BadCredentials(_FAILED)
    refuse_if_locked(session, officer, client, now, via="web")
    try:
        security_keys.check_assertion(session, key, assertion, ceremony, rp, now)
        officer_key = security_keys.officer_key_from_prf(key, officer, prf_output or b"")
    except SecurityKeyRefused:
        _fail(session, officer, client, now, "security_key_pin")
    keyring = open_grants(session, officer, officer_key)
    succeed(
        session,
        officer,
        client,
        now,
        audit.Action.LOGIN,
        {"via": "web", "factor": "security_key_pin"},
    )
    return keyring


def _fail(session: Session, officer: Officer, client: str, now: datetime, reason: str) -> NoReturn:
    throttle.register_failure(session, officer, client, now, reason, via="web")
    session.commit()
    raise WrongSecondFactor(_FAILED)
