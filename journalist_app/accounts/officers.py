"""Officer accounts: creation, removal, passphrase and 2FA resets (keys are handed on in
grants.py).

Every function here is a service action checked against roles.ROLE_PERMISSIONS, and
each writes its audit entry in the same transaction as the change it makes.

Two people are needed before someone new reads a report: an admin creates the account,
and an officer who holds the intake keys grants them (admins hold none). An account
made with a one-time passphrase gets no grant until its officer has chosen their own
passphrase, so the admin who knew the first one never holds a key that opens reports.
"""

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from nacl.public import PrivateKey
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from crypto.keys import Argon2Params, generate_box_key, wrap_secret
from journalist_app import audit
from journalist_app.accounts import resets, security_keys, throttle
from journalist_app.accounts.login import refuse_if_locked
from journalist_app.accounts.lookup import all_officers, officer_named
from journalist_app.accounts.passphrase import check_passphrase, hash_passphrase, verify_passphrase
from journalist_app.accounts.totp import Enrolment, enrol, seal_secret
from journalist_app.clock import utc_now
from journalist_app.errors import (
    AdminExists,
    BadCredentials,
    KeysNotInitialised,
    KeyWouldBeLost,
    MissingKey,
    OfficerExists,
    OfficerNotFound,
    PermissionDenied,
    WeakPassphrase,
)
from journalist_app.keys.custody import (
    check_username,
    held_secrets,
    keys_initialised,
    new_officer,
    open_grants,
    seal_grants,
    unwrap_officer_key,
    username_taken,
)
from journalist_app.keys.grants import HELD_AS, key_kinds
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import KeyGrant, Officer, UnitKey
from journalist_app.roles import ROLE_UNIT_KEYS, Permission, Role, has_permission, requires


@dataclass(frozen=True)
class CreatedAccount:
    """What to hand to the new officer, once: their 2FA and, if made here, a passphrase."""

    username: str
    role: Role
    enrolment: Enrolment | None
    one_time_passphrase: str | None = None
    granted: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"CreatedAccount(username={self.username!r}, role={self.role.value}, <secrets hidden>)"
        )


@dataclass(frozen=True)
class AccountSummary:
    username: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None
    # The latest lockout in force for some client, and failures counted from every client.
    locked_until: datetime | None
    failed_logins: int
    must_change_passphrase: bool
    holds: frozenset[str]
    missing: frozenset[str] = field(default_factory=frozenset)
    security_keys: int = 0


def generate_passphrase() -> str:
    """A one-time passphrase an admin hands over: 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


@requires(Permission.ACCOUNTS_MANAGE)
def create_officer(
    session: Session,
    actor: UnlockedKeyring,
    username: str,
    role: Role,
    *,
    params: Argon2Params,
    totp_key: bytes,
    passphrase: str | None = None,
    now: datetime | None = None,
) -> CreatedAccount:
    """Create an account with a second factor; commits.

    Without ``passphrase`` a one-time one is generated and must be changed at first
    login; such an account is granted nothing before that. With one (typed at the CLI
    by the new officer), it gets what ``actor`` holds of what ``role`` needs.
    """
    if not keys_initialised(session):
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    check_username(username)
    _refuse_taken(session, username)
    one_time = passphrase is None
    chosen = generate_passphrase() if passphrase is None else passphrase
    grants = [] if one_time else held_secrets(actor, role)
    enrolment, granted = _add_account(
        session,
        actor,
        username,
        chosen,
        params,
        role=role,
        grants=grants,
        totp_key=totp_key,
        details={"role": role.value, "one_time_passphrase": one_time},
        one_time=one_time,
        now=now,
    )
    return CreatedAccount(
        username=username,
        role=role,
        enrolment=enrolment,
        one_time_passphrase=chosen if one_time else None,
        granted=granted,
    )


def create_first_admin(
    session: Session,
    username: str,
    passphrase: str,
    *,
    params: Argon2Params,
    totp_key: bytes,
    granter: UnlockedKeyring | None = None,
    now: datetime | None = None,
) -> CreatedAccount:
    """Bootstrap (``admin create``): the first admin, only while there is none.

    Before ``keys init`` no key exists to grant (``keys init`` grants the signing key to
    admins). After it, ``granter`` (an officer holding the signing key) hands it on.
    """
    if session.scalar(select(Officer.id).where(Officer.role == Role.ADMIN.value)) is not None:
        raise AdminExists("an admin exists already: they add others ('officer add --role admin')")
    check_username(username)
    _refuse_taken(session, username)
    grants: list[tuple[str, bytes]] = []
    if granter is not None:
        if not has_permission(granter, Permission.KEYS_GRANT):
            raise PermissionDenied(f"{granter.username!r} may not grant keys")
        if granter.signing_key is None:
            raise MissingKey(f"{granter.username!r} holds no signing key to hand on")
        grants = held_secrets(granter, Role.ADMIN)
    enrolment, granted = _add_account(
        session,
        granter.username if granter else username,
        username,
        passphrase,
        params,
        role=Role.ADMIN,
        grants=grants,
        totp_key=totp_key,
        details={"role": Role.ADMIN.value, "first_admin": True},
        now=now,
    )
    return CreatedAccount(username, Role.ADMIN, enrolment, granted=granted)


@requires(Permission.ACCOUNTS_MANAGE)
def remove_officer(
    session: Session,
    actor: UnlockedKeyring,
    username: str,
    *,
    force: bool = False,
    now: datetime | None = None,
) -> int:
    """Delete an account and every grant sealed to it; returns how many grants went.

    Refused if it would leave an active unit key with no holder, unless ``force``
    (what they could read they could have copied: rotate the intake key after).
    """
    officer = officer_named(session, username)
    if officer.id == actor.officer_id:
        raise PermissionDenied("you cannot remove your own account")
    orphaned = _keys_only_held_by(session, officer)
    if orphaned and not force:
        raise KeyWouldBeLost(
            f"{username!r} is the last holder of the active {', '.join(sorted(orphaned))} key: "
            "grant it to someone else first, or remove anyway (force)"
        )
    count = len(officer.grants)
    session.delete(officer)
    _audit(
        session,
        actor,
        audit.Action.ACCOUNT_REMOVED,
        username,
        {"role": officer.role, "grants_deleted": count, "forced": bool(orphaned)},
        now,
    )
    return count


@requires(Permission.ACCOUNTS_MANAGE)
def reset_passphrase(
    session: Session,
    actor: UnlockedKeyring,
    username: str,
    *,
    params: Argon2Params,
    now: datetime | None = None,
) -> str:
    """Give an officer a one-time passphrase; returns it (shown once). Commits.

    Nobody but the officer knew the old passphrase, so their old key pair and every
    grant sealed to it are gone: the account gets a new key pair, the secrets the admin
    holds that its role needs, and waits for a holder to grant the rest once the officer
    has chosen their own passphrase *and* a supervisor other than the admin approved the
    reset (accounts/resets.py). Their sessions end; a lockout is lifted.
    """
    officer = officer_named(session, username)
    if officer.id == actor.officer_id:
        raise PermissionDenied("change your own passphrase from your account page")
    one_time = generate_passphrase()
    dropped = len(officer.grants)
    regrant = held_secrets(actor, Role(officer.role)) if officer.role == Role.ADMIN else []
    _rekey(officer, one_time, params, regrant)
    security_keys.forget_passwordless(session, officer)
    officer.must_change_passphrase = True
    throttle.lift(session, officer)
    officer.session_epoch += 1
    # The admin knows the one-time passphrase: no grant until a supervisor approves.
    resets.record_reset(session, officer, actor.username, now or utc_now())
    _audit(
        session,
        actor,
        audit.Action.PASSPHRASE_RESET,
        username,
        {
            "grants_dropped": dropped,
            "regranted": sorted(key_kinds(session, [k for k, _ in regrant])),
        },
        now,
    )
    return one_time


@requires(Permission.ACCOUNTS_MANAGE)
def reset_second_factor(
    session: Session,
    actor: UnlockedKeyring,
    username: str,
    *,
    totp_key: bytes,
    now: datetime | None = None,
) -> Enrolment:
    """A new TOTP secret (shown once); the old one stops working, the account's security
    keys are removed (a lost device is why one resets), and sessions end."""
    officer = officer_named(session, username)
    enrolment = enrol(username)
    officer.totp_secret_sealed = seal_secret(totp_key, username, enrolment.secret)
    officer.totp_last_step = 0
    removed = security_keys.remove_all(session, officer)
    officer.session_epoch += 1
    _audit(
        session, actor, audit.Action.TOTP_RESET, username, {"security_keys_removed": removed}, now
    )
    return enrolment


@requires(Permission.ACCOUNTS_MANAGE)
def unlock_account(
    session: Session, actor: UnlockedKeyring, username: str, *, now: datetime | None = None
) -> None:
    """Lift every client's lockout of ``username`` and its alert (the officer proved who they
    are some other way, or the admin looked into it)."""
    officer = officer_named(session, username)
    clients = throttle.lift(session, officer)
    _audit(session, actor, audit.Action.ACCOUNT_UNLOCKED, username, {"clients": clients}, now)


@requires(Permission.SESSION)
def change_own_passphrase(
    session: Session,
    keyring: UnlockedKeyring,
    current: str,
    new: str,
    *,
    params: Argon2Params,
    client: str = throttle.LOCAL_SHELL,
    now: datetime | None = None,
) -> UnlockedKeyring:
    """Choose a new passphrase; returns the keyring to continue the session with.

    The account gets a new key pair and every grant is sealed again to it, so whoever
    knew the old passphrase (an admin's one-time one, say) cannot open future grants
    with a copy of the old key. Other sessions of the officer end.

    A wrong current passphrase is a guess like a failed login: it counts against
    ``client`` (the CLI by default), and a client locked out is refused before checking.
    """
    now = now or utc_now()
    officer = _officer_by_id(session, keyring)
    refuse_if_locked(session, officer, client, now, via="account")
    if not verify_passphrase(officer.password_hash, current):
        throttle.register_failure(session, officer, client, now, "passphrase", via="account")
        session.commit()
        raise BadCredentials("the current passphrase is wrong")
    check_passphrase(new, officer.username)
    if new == current:
        raise WeakPassphrase("the new passphrase must differ from the current one")
    held = open_grants(session, officer, unwrap_officer_key(officer, current))
    _rekey(officer, new, params, _grant_rows(officer, held))
    security_keys.forget_passwordless(session, officer)
    officer.must_change_passphrase = False
    officer.session_epoch += 1
    _audit(session, keyring, audit.Action.PASSPHRASE_CHANGED, officer.username, {}, now)
    return open_grants(session, officer, unwrap_officer_key(officer, new))


@requires(Permission.ACCOUNTS_MANAGE)
def list_accounts(session: Session, actor: UnlockedKeyring) -> list[AccountSummary]:
    roles_by_key = dict(session.execute(select(UnitKey.key_id, UnitKey.role)).tuples().all())
    active = {
        key.key_id: key.role
        for key in session.scalars(select(UnitKey).where(UnitKey.retired_at.is_(None)))
    }
    summaries = []
    now = utc_now()
    for officer in all_officers(session):
        failures, locked_until = throttle.account_state(session, officer, now)
        held = {grant.key_id for grant in officer.grants}
        holds = frozenset(HELD_AS[roles_by_key[k]] for k in held if roles_by_key[k] in HELD_AS)
        needed = ROLE_UNIT_KEYS.get(Role(officer.role), frozenset())
        current = {HELD_AS[active[k]] for k in held if k in active and active[k] in HELD_AS}
        summaries.append(
            AccountSummary(
                username=officer.username,
                role=Role(officer.role),
                created_at=officer.created_at,
                last_login_at=officer.last_login_at,
                locked_until=locked_until,
                failed_logins=failures,
                must_change_passphrase=officer.must_change_passphrase,
                holds=holds,
                missing=frozenset(needed - current),
                security_keys=len(security_keys.keys_of(session, officer.id)),
            )
        )
    return summaries


# --- helpers (account lookups are in accounts/lookup.py) ----------------------------------


def _refuse_taken(session: Session, username: str) -> None:
    if username_taken(session, username):
        raise OfficerExists(f"an officer named {username!r} already exists")


def _officer_by_id(session: Session, keyring: UnlockedKeyring) -> Officer:
    officer = session.get(Officer, keyring.officer_id) if keyring.officer_id else None
    if officer is None:
        raise OfficerNotFound(f"no officer named {keyring.username!r}")
    return officer


def _add_account(
    session: Session,
    actor: UnlockedKeyring | str,
    username: str,
    passphrase: str,
    params: Argon2Params,
    *,
    role: Role,
    grants: list[tuple[str, bytes]],
    totp_key: bytes,
    details: dict[str, object],
    one_time: bool = False,
    now: datetime | None,
) -> tuple[Enrolment | None, tuple[str, ...]]:
    """Add the account with ``grants`` and its audit entry; commits.

    Returns its second factor and the kinds of key granted, sorted.
    """
    officer, enrolment = new_officer(
        username, passphrase, params, role=role, grants=grants, totp_key=totp_key
    )
    officer.must_change_passphrase = one_time
    session.add(officer)
    session.flush()
    granted = sorted(key_kinds(session, [kid for kid, _ in grants]))
    _audit(
        session, actor, audit.Action.ACCOUNT_CREATED, username, {**details, "granted": granted}, now
    )
    return enrolment, tuple(granted)


def _audit(
    session: Session,
    actor: UnlockedKeyring | str,
    action: str,
    username: str,
    details: dict[str, object],
    now: datetime | None,
) -> None:
    """The audit entry of an action on ``username``'s account; commits it with the change."""
    audit.record(session, actor, action, audit.officer_target(username), details, now=now)
    session.commit()


def _rekey(
    officer: Officer, passphrase: str, params: Argon2Params, grants: list[tuple[str, bytes]]
) -> PrivateKey:
    """New key pair wrapped by ``passphrase``; the old grants are replaced by ``grants``."""
    officer_key = generate_box_key()
    officer.password_hash = hash_passphrase(passphrase, params)
    officer.public_key = bytes(officer_key.public_key)
    officer.wrapped_private_key = wrap_secret(bytes(officer_key), passphrase, params)
    # Old grants go first: a new grant of the same key must not meet its old row.
    officer.grants.clear()
    session = object_session(officer)
    if session is not None:
        session.flush()
    officer.grants.extend(seal_grants(officer.public_key, grants))
    return officer_key


def _grant_rows(officer: Officer, held: UnlockedKeyring) -> list[tuple[str, bytes]]:
    """Every secret ``held`` opened from ``officer``'s grants, to seal again."""
    secrets_held = held_secrets(held)
    wanted = {grant.key_id for grant in officer.grants}
    return [(kid, secret) for kid, secret in secrets_held if kid in wanted]


def _keys_only_held_by(session: Session, officer: Officer) -> set[str]:
    """Active unit keys (not the offline recovery key) that only ``officer`` holds."""
    orphaned = set()
    for grant in officer.grants:
        key = session.get(UnitKey, grant.key_id)
        if key is None or key.retired_at is not None or key.role == "recovery":
            continue
        others = session.scalar(
            select(KeyGrant.id)
            .where(KeyGrant.key_id == grant.key_id, KeyGrant.officer_id != officer.id)
            .limit(1)
        )
        if others is None:
            orphaned.add(key.role)
    return orphaned


__all__ = [
    "AccountSummary",
    "CreatedAccount",
    "change_own_passphrase",
    "create_first_admin",
    "create_officer",
    "list_accounts",
    "remove_officer",
    "reset_passphrase",
    "reset_second_factor",
    "unlock_account",
    "utc_now",
]
