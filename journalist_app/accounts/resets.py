"""A passphrase reset needs a second person before the account holds a key again.

An admin who resets an officer's passphrase learns the one-time passphrase, and can reset
their second factor too: with both, the admin can log in as that officer, choose a
passphrase, and wait. Before issue 9 a colleague holding the keys then saw the account
"waiting for keys" and granted them, handing an admin (who by design reads no report) a
supervisor's intake and identity keys.

So a reset of any account but an admin's is recorded here, and until a **supervisor other
than the resetting admin and the officer** approves it, the account is granted nothing:
:func:`refuse_unapproved` is checked by every grant (keys/grants.py). The approver states
that they checked with the officer, in person, that the officer asked for the reset and
chose the new passphrase themselves; the approval is refused before the officer has
chosen one. The approval and its approver are in the audit log.

An admin's own reset of another admin needs no approval: the account gets back only the
signing key, which the resetting admin holds already.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.accounts.lookup import all_officers, officer_named
from journalist_app.clock import utc_now
from journalist_app.errors import PermissionDenied
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Officer
from journalist_app.models.officer import PassphraseReset
from journalist_app.roles import Permission, Role, requires


@dataclass(frozen=True)
class ResetToApprove:
    """A reset waiting for a supervisor's approval, as the *Keys to grant* page lists it."""

    username: str
    role: Role
    reset_by: str
    reset_at: datetime
    passphrase_chosen: bool


def record_reset(session: Session, officer: Officer, reset_by: str, now: datetime) -> None:
    """Note an admin's reset of ``officer`` (not committed): no grant until approved."""
    if officer.role != Role.ADMIN.value:
        session.add(PassphraseReset(officer_id=officer.id, reset_by=reset_by, reset_at=now))


def pending_reset(session: Session, officer: Officer) -> PassphraseReset | None:
    """The latest reset of ``officer`` nobody has approved yet, if any."""
    return session.scalar(
        select(PassphraseReset)
        .where(PassphraseReset.officer_id == officer.id, PassphraseReset.approved_at.is_(None))
        .order_by(PassphraseReset.id.desc())
        .limit(1)
    )


def refuse_unapproved(session: Session, officer: Officer) -> None:
    """:class:`PermissionDenied` while a reset of ``officer`` waits for its approval."""
    reset = pending_reset(session, officer)
    if reset is not None:
        raise PermissionDenied(
            f"the passphrase of {officer.username!r} was reset by {reset.reset_by!r}: a "
            "supervisor other than them must approve the reset before any key is granted "
            f"('iblagh-officer officer approve-reset --name {officer.username}')"
        )


@requires(Permission.KEYS_GRANT)
def resets_to_approve(session: Session, keyring: UnlockedKeyring) -> list[ResetToApprove]:
    """Resets ``keyring``'s officer may approve: a supervisor's view; empty for anyone else."""
    if keyring.role != Role.SUPERVISOR.value:
        return []
    waiting = []
    for officer in all_officers(session):
        reset = pending_reset(session, officer)
        if reset is None or officer.id == keyring.officer_id:
            continue
        waiting.append(
            ResetToApprove(
                username=officer.username,
                role=Role(officer.role),
                reset_by=reset.reset_by,
                reset_at=reset.reset_at,
                passphrase_chosen=not officer.must_change_passphrase,
            )
        )
    return waiting


@requires(Permission.KEYS_GRANT)
def approve_reset(
    session: Session, keyring: UnlockedKeyring, username: str, *, now: datetime | None = None
) -> None:
    """Approve the pending reset of ``username``: from now on a holder may grant. Commits.

    Only a supervisor, never the officer themselves nor the admin who reset, and only
    once the officer has chosen their own passphrase.
    """
    officer = officer_named(session, username)
    reset = pending_reset(session, officer)
    if keyring.role != Role.SUPERVISOR.value:
        raise PermissionDenied("only a supervisor approves a passphrase reset")
    if officer.id == keyring.officer_id:
        raise PermissionDenied("nobody approves the reset of their own account")
    if reset is None:
        raise PermissionDenied(f"no reset of {username!r} waits for approval")
    if reset.reset_by == keyring.username:
        raise PermissionDenied("the officer who reset the passphrase cannot approve it")
    if officer.must_change_passphrase:
        raise PermissionDenied(
            f"{username!r} has not chosen their own passphrase yet: approve after they did, "
            "in front of you"
        )
    now = now or utc_now()
    for row in session.scalars(
        select(PassphraseReset).where(
            PassphraseReset.officer_id == officer.id, PassphraseReset.approved_at.is_(None)
        )
    ):
        row.approved_by = keyring.username
        row.approved_at = now
    audit.record(
        session,
        keyring,
        audit.Action.RESET_APPROVED,
        audit.officer_target(username),
        {"reset_by": reset.reset_by, "reset_at": reset.reset_at.strftime("%Y-%m-%dT%H:%M:%SZ")},
        now=now,
    )
    session.commit()
