"""Logging in: passphrase (argon2id), then a one-time TOTP code, then the keys unlock.

Failures are counted per account in the database (not per address: the officer host
sees few addresses and must not depend on them), with an exponential back-off that
becomes a lockout: after 5 consecutive failures the account is locked for 15 minutes,
then 30, 60… up to a day. A locked account is refused before anything is checked, so
guessing stops while it lasts. Every attempt is in the audit log.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal, NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto.keys import Argon2Params
from journalist_app import audit
from journalist_app.accounts.passphrase import spend_dummy_check, verify_passphrase
from journalist_app.accounts.totp import check_code, open_secret
from journalist_app.clock import utc_now
from journalist_app.errors import (
    AccountLocked,
    BadCredentials,
    PermissionDenied,
    WrongSecondFactor,
)
from journalist_app.keys.custody import open_grants, unwrap_officer_key
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer

LOCKOUT_AFTER = 5
LOCKOUT_FIRST = timedelta(minutes=15)
LOCKOUT_LONGEST = timedelta(hours=24)
_FAILED = "unknown officer or wrong passphrase"


def backoff(failures: int) -> timedelta:
    """How long an account waits after ``failures`` consecutive failures.

    1, 2, 4, 8 seconds for the first four (a typo costs nothing), then a lockout of 15
    minutes that doubles with each further failure, up to a day.
    """
    if failures <= 0:
        return timedelta(0)
    if failures < LOCKOUT_AFTER:
        return timedelta(seconds=2 ** (failures - 1))
    doublings = min(failures - LOCKOUT_AFTER, 16)
    return min(LOCKOUT_FIRST * (1 << doublings), LOCKOUT_LONGEST)


def log_in(
    session: Session,
    username: str,
    passphrase: str,
    code: str,
    *,
    params: Argon2Params,
    totp_key: bytes,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """Web login: every check passes or :class:`BadCredentials` (one message for all).

    Commits: the failure count, the last TOTP step and the audit entry.
    """
    now = now or utc_now()
    officer = _officer_to_try(session, username, passphrase, params, now, via="web")
    if not verify_passphrase(officer.password_hash, passphrase):
        _fail(session, officer, now, "passphrase", via="web")
    if officer.totp_secret_sealed is None:
        _fail(session, officer, now, "no_second_factor", via="web")
    secret = open_secret(totp_key, officer.username, officer.totp_secret_sealed or b"")
    check = check_code(secret, code, now.replace(tzinfo=UTC), officer.totp_last_step)
    if check.step is None or not _claim_step(session, officer, check.step):
        reason = "code_replayed" if check.replayed or check.step is not None else "code"
        _fail(session, officer, now, reason, via="web", second_factor=True)
    keyring = open_grants(session, officer, unwrap_officer_key(officer, passphrase))
    _succeed(session, officer, now, audit.Action.LOGIN, {"via": "web"})
    return keyring


def unlock_for_command(
    session: Session,
    username: str,
    passphrase: str,
    *,
    params: Argon2Params,
    command: str,
    allow_one_time_passphrase: bool = False,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """A CLI command's unlock: passphrase only, same lockout, same audit.

    No TOTP here: whoever runs the CLI already has a shell on the officer host, which
    holds the TOTP host key; a code would prove nothing more (docs/keys.md).
    """
    now = now or utc_now()
    officer = _officer_to_try(session, username, passphrase, params, now, via="cli")
    if not verify_passphrase(officer.password_hash, passphrase):
        _fail(session, officer, now, "passphrase", via="cli")
    if officer.must_change_passphrase and not allow_one_time_passphrase:
        raise PermissionDenied(
            f"{username!r} must first choose their own passphrase: log in to the officer app, "
            f"or run 'iblagh-officer officer passphrase --officer {username}'"
        )
    keyring = open_grants(session, officer, unwrap_officer_key(officer, passphrase))
    _succeed(session, officer, now, audit.Action.UNLOCKED, {"via": "cli", "command": command})
    return keyring


SessionState = Literal["ended", "must_change_passphrase", "active"]


def session_state(session: Session, keyring: UnlockedKeyring) -> SessionState:
    """Is the account behind this keyring still there, with the same role and credentials?

    Checked on every request, so a reset, a removal or a role change made by another
    process (the CLI) ends the web sessions of that officer at their next click.
    """
    if keyring.officer_id is None:
        return "ended"
    row = session.execute(
        select(
            Officer.username, Officer.session_epoch, Officer.role, Officer.must_change_passphrase
        ).where(Officer.id == keyring.officer_id)
    ).first()
    if (
        row is None
        or row.username != keyring.username
        or row.session_epoch != keyring.session_epoch
        or row.role != keyring.role
    ):
        return "ended"
    return "must_change_passphrase" if row.must_change_passphrase else "active"


def _officer_to_try(
    session: Session,
    username: str,
    passphrase: str,
    params: Argon2Params,
    now: datetime,
    via: str,
) -> Officer:
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None:
        # Same argon2id time as a real check; the typed name is not logged (it may be a
        # passphrase typed in the wrong field).
        spend_dummy_check(passphrase, params)
        audit.record(
            session, None, audit.Action.LOGIN_FAILED, "", {"reason": "unknown", "via": via}
        )
        session.commit()
        raise BadCredentials(_FAILED)
    if officer.locked_until is not None and now < officer.locked_until:
        spend_dummy_check(passphrase, params)
        audit.record(
            session,
            None,
            audit.Action.LOGIN_LOCKED,
            audit.officer_target(officer.username),
            {"until": _iso(officer.locked_until), "via": via},
            now=now,
        )
        session.commit()
        raise AccountLocked(
            f"too many failed attempts: {username!r} is locked until "
            f"{officer.locked_until:%Y-%m-%d %H:%M:%S} UTC",
            until=officer.locked_until,
        )
    return officer


def _fail(
    session: Session,
    officer: Officer,
    now: datetime,
    reason: str,
    *,
    via: str,
    second_factor: bool = False,
) -> NoReturn:
    register_failure(session, officer, now, reason, via=via)
    session.commit()
    if second_factor:
        raise WrongSecondFactor(_FAILED)
    raise BadCredentials(_FAILED)


def register_failure(
    session: Session, officer: Officer, now: datetime, reason: str, *, via: str
) -> None:
    """Count a failed proof of identity, set the back-off, log it (not committed).

    Reaching the lockout also ends the officer's open sessions: a wrong current
    passphrase typed again and again in an open session is a guess too.
    """
    officer.failed_logins += 1
    wait = backoff(officer.failed_logins)
    officer.locked_until = now + wait
    details: dict[str, object] = {"reason": reason, "failures": officer.failed_logins, "via": via}
    if officer.failed_logins >= LOCKOUT_AFTER:
        details["locked_until"] = _iso(officer.locked_until)
        officer.session_epoch += 1
    audit.record(
        session,
        None,
        audit.Action.LOGIN_FAILED,
        audit.officer_target(officer.username),
        details,
        now=now,
    )


def _claim_step(session: Session, officer: Officer, step: int) -> bool:
    """Record ``step`` as used, atomically: of two logins racing with one code, one wins."""
    claimed = session.execute(
        update(Officer)
        .where(Officer.id == officer.id, Officer.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    won = bool(getattr(claimed, "rowcount", 0) == 1)
    if won:
        officer.totp_last_step = step
    return won


def _succeed(
    session: Session, officer: Officer, now: datetime, action: str, details: dict[str, str]
) -> None:
    officer.failed_logins = 0
    officer.locked_until = None
    officer.last_login_at = now
    audit.record(
        session, officer.username, action, audit.officer_target(officer.username), details, now=now
    )
    session.commit()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
