"""Handing on unit secrets: an officer seals what they hold to an account that needs it.

Granting needs only the receiving account's public key (docs/keys.md, "Two layers"), so
a holder grants without anyone's passphrase. What an account needs follows its role
(roles.ROLE_UNIT_KEYS); an account with a one-time passphrase is granted nothing until
its officer has chosen their own, nor an account whose reset a supervisor has not approved
(accounts/resets.py).
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.accounts.lookup import all_officers, officer_named
from journalist_app.accounts.resets import pending_reset, refuse_unapproved
from journalist_app.errors import PermissionDenied
from journalist_app.keys.custody import held_secrets, seal_grants
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer, UnitKey
from journalist_app.roles import Permission, Role, requires

# Unit-key roles an officer can hold a grant of, and what they count as (roles.py). A
# recovery key in service opens identity sections, so it counts (and goes) with them.
HELD_AS = {
    "intake": "intake",
    "identity": "identity",
    "recovery": "identity",
    "signing": "signing",
    "sync": "sync",
}


@dataclass(frozen=True)
class PendingGrant:
    """An account whose role needs unit secrets that the granting officer holds."""

    username: str
    role: Role
    key_ids: tuple[str, ...]
    kinds: frozenset[str]


@requires(Permission.KEYS_GRANT)
def pending_grants(session: Session, keyring: UnlockedKeyring) -> list[PendingGrant]:
    """Accounts (past their first passphrase) lacking secrets ``keyring`` could give them."""
    pending = []
    for officer in all_officers(session):
        if officer.must_change_passphrase or officer.id == keyring.officer_id:
            continue
        if pending_reset(session, officer) is not None:
            continue  # a reset waits for a supervisor's approval (accounts/resets.py)
        missing = _missing_for(session, keyring, officer)
        if missing:
            pending.append(
                PendingGrant(
                    username=officer.username,
                    role=Role(officer.role),
                    key_ids=tuple(kid for kid, _ in missing),
                    kinds=frozenset(key_kinds(session, [kid for kid, _ in missing])),
                )
            )
    return pending


@requires(Permission.KEYS_GRANT)
def grant_keys(
    session: Session,
    keyring: UnlockedKeyring,
    username: str,
    *,
    with_intake: bool = False,
    now: datetime | None = None,
) -> list[str]:
    """Seal to ``username`` the secrets ``keyring`` holds that their role needs and they
    lack; ``with_intake`` gives an admin the intake keys (explicit, logged). Commits."""
    officer = officer_named(session, username)
    if officer.must_change_passphrase:
        raise PermissionDenied(
            f"{username!r} has not chosen their own passphrase yet: grant after their first login"
        )
    refuse_unapproved(session, officer)
    if with_intake and officer.role != Role.ADMIN.value:
        with_intake = False
    missing = _missing_for(session, keyring, officer, with_intake=with_intake)
    officer.grants.extend(seal_grants(officer.public_key, missing))
    granted = [kid for kid, _ in missing]
    audit.record(
        session,
        keyring,
        audit.Action.KEYS_GRANTED,
        audit.officer_target(username),
        {
            "keys": granted,
            "kinds": sorted(key_kinds(session, granted)),
            "admin_intake": with_intake,
        },
        now=now,
    )
    session.commit()
    return granted


def key_kinds(session: Session, key_ids: list[str]) -> set[str]:
    """What the given unit keys are, as roles.ROLE_UNIT_KEYS names them."""
    if not key_ids:
        return set()
    roles = session.scalars(select(UnitKey.role).where(UnitKey.key_id.in_(key_ids)))
    return {HELD_AS.get(role, role) for role in roles}


def _missing_for(
    session: Session, keyring: UnlockedKeyring, officer: Officer, *, with_intake: bool = False
) -> list[tuple[str, bytes]]:
    held = {grant.key_id for grant in officer.grants}
    offer = held_secrets(keyring, Role(officer.role), with_intake=with_intake)
    return [(kid, secret) for kid, secret in offer if kid not in held]
