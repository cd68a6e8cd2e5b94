"""Logging in: passphrase (argon2id), then a one-time TOTP code, then the keys unlock.

Failures are counted per account *and client* (accounts/throttle.py): the client that
guesses waits, then is locked out of that account, while the officer logs in from their
own desk and keeps their open sessions. Every attempt is in the audit log.
"""

from datetime import UTC, datetime
from typing import Literal, NoReturn

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto.keys import Argon2Params
from journalist_app import audit
from journalist_app.accounts import throttle
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

LOCKOUT_AFTER = throttle.LOCKOUT_AFTER
backoff = throttle.backoff
_FAILED = "unknown officer or wrong passphrase"


def log_in(
    session: Session,
    username: str,
    passphrase: str,
    code: str,
    *,
    params: Argon2Params,
    totp_key: bytes,
    client: str,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """Web login: every check passes or :class:`BadCredentials` (one message for all).

    ``client`` is :func:`throttle.client_tag` of the address the request came from.
    Commits: the failure count, the last TOTP step and the audit entry.
    """
    now = now or utc_now()
    officer = officer_to_try(session, username, passphrase, params, now, client, via="web")
    if not verify_passphrase(officer.password_hash, passphrase):
        _fail(session, officer, client, now, "passphrase", via="web")
    if officer.totp_secret_sealed is None:
        _fail(session, officer, client, now, "no_second_factor", via="web")
    secret = open_secret(totp_key, officer.username, officer.totp_secret_sealed or b"")
    check = check_code(secret, code, now.replace(tzinfo=UTC), officer.totp_last_step)
    if check.step is None or not _claim_step(session, officer, check.step):
        reason = "code_replayed" if check.replayed or check.step is not None else "code"
        _fail(session, officer, client, now, reason, via="web", second_factor=True)
    keyring = open_grants(session, officer, unwrap_officer_key(officer, passphrase))
    succeed(session, officer, client, now, audit.Action.LOGIN, {"via": "web"})
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
    client = throttle.LOCAL_SHELL
    officer = officer_to_try(session, username, passphrase, params, now, client, via="cli")
    if not verify_passphrase(officer.password_hash, passphrase):
        _fail(session, officer, client, now, "passphrase", via="cli")
    if officer.must_change_passphrase and not allow_one_time_passphrase:
        raise PermissionDenied(
            f"{username!r} must first choose their own passphrase: log in to the officer app, "
            f"or run 'iblagh-officer officer passphrase --officer {username}'"
        )
    keyring = open_grants(session, officer, unwrap_officer_key(officer, passphrase))
    succeed(
        session, officer, client, now, audit.Action.UNLOCKED, {"via": "cli", "command": command}
    )
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


def officer_to_try(
    session: Session,
    username: str,
    passphrase: str,
    params: Argon2Params,
    now: datetime,
    client: str,
    via: str,
) -> Officer:
    """The account ``username`` names, if it exists and ``client`` may try it now.

    An unknown name spends the argon2id time of a check and is refused like a wrong
    passphrase; a client locked out is refused before anything is checked.
    """
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
    refuse_if_locked(session, officer, client, now, via=via, spend=(passphrase, params))
    return officer


def refuse_if_locked(
    session: Session,
    officer: Officer,
    client: str,
    now: datetime,
    *,
    via: str,
    spend: tuple[str, Argon2Params] | None = None,
) -> None:
    """Raise :class:`AccountLocked` while ``client`` must wait on ``officer``'s account.

    Nothing is checked then, so guessing stops; ``spend`` spends the argon2id time a check
    would have, so that a lock does not show in the answer's timing. Commits the entry.
    """
    until = throttle.locked_until(session, officer, client, now)
    if until is None:
        return
    if spend is not None:
        spend_dummy_check(*spend)
    audit.record(
        session,
        None,
        audit.Action.LOGIN_LOCKED,
        audit.officer_target(officer.username),
        {"until": _iso(until), "via": via},
        now=now,
    )
    session.commit()
    raise AccountLocked(
        f"too many failed attempts from here: {officer.username!r} is locked for this client "
        f"until {until:%Y-%m-%d %H:%M:%S} UTC",
        until=until,
    )


def _fail(
    session: Session,
    officer: Officer,
    client: str,
    now: datetime,
    reason: str,
    *,
    via: str,
    second_factor: bool = False,
) -> NoReturn:
    throttle.register_failure(session, officer, client, now, reason, via=via)
    session.commit()
    if second_factor:
        raise WrongSecondFactor(_FAILED)
    raise BadCredentials(_FAILED)


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


def succeed(
    session: Session,
    officer: Officer,
    client: str,
    now: datetime,
    action: str,
    details: dict[str, str],
) -> None:
    """A proof of identity passed: ``client`` starts again from nothing; logged, committed."""
    throttle.register_success(session, officer, client)
    officer.last_login_at = now
    audit.record(
        session, officer.username, action, audit.officer_target(officer.username), details, now=now
    )
    session.commit()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
