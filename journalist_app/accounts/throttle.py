"""Back-off and lockout per (account, client): guessing locks out the guesser, not the officer.

Consecutive failed proofs of identity (a wrong passphrase or code, a replayed code, a
security key's assertion that does not verify, a wrong current passphrase on the account
page) are counted for one account *from one client* in ``login_throttles``. After failure
*n* that client waits 1, 2, 4, 8 seconds (*n* = 1–4); the 5th locks that client out of
that account for 15 minutes, each further failure doubles it, up to a day. The officer,
from their own desk, is not affected, and no failure ever ends an open session: before
issue 9 the count was per account, so anyone who reached the login page could lock an
officer out and end their sessions.

The client is the address the officer app sees (``REMOTE_ADDR``): on the isolated officer
host it is the officer's machine. It is kept only as an HMAC under a host key
(``login-client-key`` in the data dir, 0600), so the database names no address, and a copy
of the database alone cannot be searched for one. The CLI is one client of its own.

Reaching the lockout raises an alert: an audit entry (``login.lockout``) and a line on the
admin's *Accounts* page until an admin lifts it.

What this leaves open: a guesser who changes address at will (a whole network behind
the officer host's firewall) gets five tries per address. Each try still costs an argon2id
check, and a passphrase alone logs nobody in: the second factor must be right in the same
try, and a failure never says which part was wrong.
"""

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import nacl.utils
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.errors import CorruptGrant
from journalist_app.models import Officer
from journalist_app.models.officer import LoginThrottle

LOCKOUT_AFTER = 5
LOCKOUT_FIRST = timedelta(minutes=15)
LOCKOUT_LONGEST = timedelta(hours=24)
CLIENT_KEY_FILE = "login-client-key"
CLIENT_KEY_BYTES = 32
# The iblagh-officer command line: whoever runs it has a shell on the officer host.
LOCAL_SHELL = "local-shell"
_CLIENT_DOMAIN = b"iblagh-login-client/1\n"


@dataclass(frozen=True)
class LockoutAlert:
    """An account some client guessed at until it was locked out, for the admin's page."""

    username: str
    clients: int
    failures: int
    first_alerted_at: datetime
    locked_until: datetime | None


def backoff(failures: int) -> timedelta:
    """How long a client waits after ``failures`` consecutive failures on one account.

    1, 2, 4, 8 seconds for the first four (a typo costs nothing), then a lockout of 15
    minutes that doubles with each further failure, up to a day.
    """
    if failures <= 0:
        return timedelta(0)
    if failures < LOCKOUT_AFTER:
        return timedelta(seconds=2 ** (failures - 1))
    doublings = min(failures - LOCKOUT_AFTER, 16)
    return min(LOCKOUT_FIRST * (1 << doublings), LOCKOUT_LONGEST)


def load_or_create_client_key(data_dir: Path) -> bytes:
    """The host's key for hashing client addresses: made once, 0600, in the data dir."""
    path = data_dir / CLIENT_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != CLIENT_KEY_BYTES:
            raise CorruptGrant(f"{path} is damaged: delete it (login counts restart)") from None
        return key
    key = nacl.utils.random(CLIENT_KEY_BYTES)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def client_tag(key: bytes, address: str) -> str:
    """What the database keeps of a client's address: HMAC-SHA-256 under the host key.

    Keyed, because a plain hash of an IPv4 address is reversed by trying all 2^32.
    """
    return hmac.new(key, _CLIENT_DOMAIN + address.encode("utf-8"), hashlib.sha256).hexdigest()


def locked_until(session: Session, officer: Officer, client: str, now: datetime) -> datetime | None:
    """When ``client`` may try ``officer``'s account again, or None if it may now."""
    row = _row(session, officer, client)
    if row is None or row.locked_until is None or now >= row.locked_until:
        return None
    return row.locked_until


def register_failure(
    session: Session,
    officer: Officer,
    client: str,
    now: datetime,
    reason: str,
    *,
    via: str,
) -> None:
    """Count a failed proof of identity from ``client``, set its wait, log it; not committed.

    Never ends a session: the officer's open sessions are theirs, whoever guesses elsewhere.
    """
    row = _row(session, officer, client)
    if row is None:
        row = LoginThrottle(officer_id=officer.id, client=client, failures=0)
        session.add(row)
    row.failures += 1
    row.last_failure_at = now
    row.locked_until = now + backoff(row.failures)
    details: dict[str, object] = {"reason": reason, "failures": row.failures, "via": via}
    if row.failures >= LOCKOUT_AFTER:
        details["locked_until"] = _iso(row.locked_until)
    target = audit.officer_target(officer.username)
    audit.record(session, None, audit.Action.LOGIN_FAILED, target, details, now=now)
    if row.failures == LOCKOUT_AFTER:
        row.alerted_at = row.alerted_at or now
        audit.record(
            session,
            None,
            audit.Action.LOGIN_LOCKOUT,
            target,
            {
                # A prefix of the keyed hash tells an admin whether two alerts are one client.
                "client": client[:12],
                "failures": row.failures,
                "locked_until": _iso(row.locked_until),
                "via": via,
            },
            now=now,
        )


def register_success(session: Session, officer: Officer, client: str) -> None:
    """A client that proved who it is starts again from nothing; the alert stays until lifted."""
    row = _row(session, officer, client)
    if row is not None:
        row.failures = 0
        row.locked_until = None


def lift(session: Session, officer: Officer) -> int:
    """An admin lifts every lock and alert of ``officer``'s account; returns how many clients."""
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.officer_id == officer.id))
    return int(getattr(result, "rowcount", 0) or 0)


def account_state(session: Session, officer: Officer, now: datetime) -> tuple[int, datetime | None]:
    """Failures counted against ``officer`` from every client, and the latest lock in force."""
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.officer_id == officer.id))
    failures, latest = 0, None
    for row in rows:
        failures += row.failures
        if row.failures >= LOCKOUT_AFTER and row.locked_until and row.locked_until > now:
            latest = max(latest or row.locked_until, row.locked_until)
    return failures, latest


def lockout_alerts(session: Session, now: datetime) -> list[LockoutAlert]:
    """Accounts some client was locked out of, oldest alert first, until an admin lifts them."""
    rows = session.execute(
        select(LoginThrottle, Officer.username)
        .join(Officer, Officer.id == LoginThrottle.officer_id)
        .where(LoginThrottle.alerted_at.is_not(None))
        .order_by(LoginThrottle.alerted_at)
    ).all()
    grouped: dict[str, list[LoginThrottle]] = {}
    for row, username in rows:
        grouped.setdefault(username, []).append(row)
    alerts = []
    for username, throttles in grouped.items():
        in_force = [t.locked_until for t in throttles if t.locked_until and t.locked_until > now]
        alerts.append(
            LockoutAlert(
                username=username,
                clients=len(throttles),
                failures=sum(t.failures for t in throttles),
                first_alerted_at=min(t.alerted_at for t in throttles if t.alerted_at),
                locked_until=max(in_force) if in_force else None,
            )
        )
    return alerts


def _row(session: Session, officer: Officer, client: str) -> LoginThrottle | None:
    return session.scalar(
        select(LoginThrottle).where(
            LoginThrottle.officer_id == officer.id, LoginThrottle.client == client
        )
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
