"""The audit log: who did what, when, to what — append-only and hash-chained.

Each entry's hash is SHA-256 over a canonical encoding of all its fields, the previous
entry's hash included, so editing, deleting or inserting a row breaks the chain from
that row on; ``iblagh-officer audit verify`` names the first broken entry.

For every engineer: call :func:`record` in the same transaction as the action it
describes, then commit both together (no action without its entry, no entry without
its action)::

    audit.record(session, keyring, audit.Action.STATUS_CHANGED, audit.report_target(id),
                 {"from": "received", "to": "under_review"})
    session.commit()

Details are plain JSON. Never put report content, identities, passphrases or codes in
them: the log is readable by supervisors and kept forever.
"""

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ScalarResult, func, or_, select, text
from sqlalchemy.orm import Session

from journalist_app.models.audit import AuditEntry
from journalist_app.roles import Permission, Principal, has_permission, requires

GENESIS_HASH = "0" * 64
_DOMAIN = b"iblagh-audit/1\n"
_VERSION = 1


class Action:
    """The action names in use; add yours here so the log reads the same everywhere."""

    # Sessions
    LOGIN = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED = "login.locked"
    # One client reached the lockout on an account: an alert for the admin (accounts/throttle.py).
    LOGIN_LOCKOUT = "login.lockout"
    LOGOUT = "logout"
    SESSION_EXPIRED = "session.expired"
    UNLOCKED = "keys.unlocked"  # a CLI command unlocked an officer's keys
    # Reports and cases (triage)
    REPORT_OPENED = "report.opened"
    REPORT_INDEXED = "report.indexed"
    ATTACHMENT_DOWNLOADED = "attachment.downloaded"
    # A picture decrypted to draw its preview.
    ATTACHMENT_THUMBNAIL = "attachment.thumbnail"
    REPORT_UNREADABLE = "report.unreadable"
    IDENTITY_REVEALED = "identity.revealed"
    STATUS_CHANGED = "case.status_changed"
    CASE_ASSIGNED = "case.assigned"
    REPLY_QUEUED = "reply.queued"
    # The unit's copy of a reply, or an internal note, decrypted to show a case's thread.
    REPLY_OPENED = "reply.opened"
    NOTE_ADDED = "note.added"
    NOTE_OPENED = "note.opened"
    HASHLIST_IMPORTED = "hashlist.imported"
    ATTACHMENT_DIAGNOSED = "attachment.diagnosed"
    # A picture or video shown sharp (unblurred) on a case page, one item at a time.
    MEDIA_REVEALED = "media.revealed"
    SEARCHED = "search.run"
    REPORTER_MUTED = "reporter.muted"
    # The key the public host listed for a report is not the one sealed in its body.
    REPORTER_KEY_MISMATCH = "report.reporter_key_mismatch"
    # What arrived does not match what the body binds (identity, attachments, signature).
    REPORT_BINDING_PROBLEM = "report.binding_problem"
    # A reveal refused: the identity section is not the one the report's body binds.
    IDENTITY_BINDING_REFUSED = "identity.binding_refused"
    # Moving data
    SYNCED = "sync.completed"
    SYNC_FAILED = "sync.failed"
    # The public host serves another recipient set than the last issued (sync/freshness.py).
    RECIPIENT_SET_NOT_CURRENT = "sync.recipient_set_not_current"
    BATCH_IMPORTED = "batch.imported"
    BATCH_EXPORTED = "batch.exported"
    # Referrals (journalist_app/referral/, docs/referral.md)
    REFERRAL_DIRECTORY_IMPORTED = "referral.directory_imported"
    REFERRAL_KEY_CREATED = "referral.unit_key_created"
    REFERRAL_BUILT = "referral.built"
    REFERRAL_EXPORTED = "referral.exported"
    REFERRAL_ACKNOWLEDGED = "referral.acknowledged"
    REFERRAL_REMOVED = "referral.content_removed"
    # A report or file decrypted to go into a referral packet (reports/sealed.py).
    REFERRAL_EVIDENCE = "referral.evidence_opened"
    # Keys
    KEYS_INITIALISED = "keys.initialised"
    KEYS_GRANTED = "keys.granted"
    KEYS_ROTATED = "keys.rotated"
    IDENTITY_KEY_ROTATED = "keys.identity_rotated"
    KEYS_RECOVERED = "keys.recovered"
    RECIPIENT_SET_ISSUED = "recipient_set.issued"
    # Accounts
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_REMOVED = "account.removed"
    PASSPHRASE_CHANGED = "account.passphrase_changed"  # noqa: S105 (an action name)
    PASSPHRASE_RESET = "account.passphrase_reset"  # noqa: S105
    TOTP_RESET = "account.totp_reset"
    ACCOUNT_UNLOCKED = "account.unlocked"
    # A supervisor confirmed an admin's passphrase reset: grants may follow (accounts/resets.py).
    RESET_APPROVED = "account.reset_approved"
    # Officers' security keys (WebAuthn, accounts/security_keys.py).
    SECURITY_KEY_REGISTERED = "security_key.registered"
    SECURITY_KEY_REMOVED = "security_key.removed"


def officer_target(username: str) -> str:
    return f"officer:{username}"


def report_target(report_id: str) -> str:
    return f"report:{report_id}"


def key_target(key_id: str) -> str:
    return f"key:{key_id}"


def record(
    session: Session,
    actor: Principal | str | None,
    action: str,
    target: str = "",
    details: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> AuditEntry:
    """Append an entry to ``session``'s transaction (flushed, not committed).

    ``actor`` is the keyring or actor of the officer who acted, a username, or ``None``
    for the system or an unknown account.
    """
    username = actor if isinstance(actor, str) else (actor.username if actor else "")
    _lock_for_append(session)
    head = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    entry = AuditEntry(
        id=(head.id + 1) if head else 1,
        time=_format_time(now or datetime.now(UTC)),
        actor=username,
        action=action,
        target=target,
        details=canonical_details(details or {}),
        prev_hash=head.hash if head else GENESIS_HASH,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.flush()
    return entry


def record_sync(
    session: Session,
    actor: Principal,
    result: object | None,
    *,
    error: BaseException | None = None,
    via: str,
) -> AuditEntry:
    """A sync (or its failure): the counts of a ``SyncResult``-like dataclass, or the error type."""
    if error is not None or result is None:
        failure = {"via": via, "error": type(error).__name__ if error else "unknown"}
        return record(session, actor, Action.SYNC_FAILED, "", failure)
    counts: dict[str, Any] = {}
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        counts = dataclasses.asdict(result)
    check = counts.get("recipient_set")
    if isinstance(check, dict) and check.get("status") != "current":
        record(session, actor, Action.RECIPIENT_SET_NOT_CURRENT, "", {"via": via, **check})
    return record(session, actor, Action.SYNCED, "", {"via": via, **counts})


def canonical_details(details: Mapping[str, Any]) -> str:
    """Sorted keys, no spaces, UTF-8 as is; refuses what is not plain JSON."""
    return json.dumps(
        dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 (hex) over the version, every field and the previous hash, as a JSON array."""
    fields = [
        _VERSION,
        entry.id,
        entry.time,
        entry.actor,
        entry.action,
        entry.target,
        entry.details,
        entry.prev_hash,
    ]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(_DOMAIN + encoded).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """The result of verifying the chain: ``broken_at`` is the first bad entry's id."""

    count: int
    head: str
    broken_at: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None and not self.problem


def verify_chain(session: Session, expected_head: str | None = None) -> ChainCheck:
    """Walk the log in id order and check ids, links and hashes.

    ``expected_head`` is a head hash noted earlier (``audit verify`` prints it): if it is
    no longer in the chain, entries up to it were removed or rewritten. Without such a
    note, removing the *last* entries cannot be told from a shorter log.
    """
    expected_id, previous, count = 1, GENESIS_HASH, 0
    seen_expected = expected_head is None
    with _in_order(session) as entries:
        for entry in entries:
            check = _check_link(entry, expected_id, previous, count)
            if check is not None:
                return check
            previous, expected_id, count = entry.hash, expected_id + 1, count + 1
            seen_expected = seen_expected or entry.hash == expected_head
    if not seen_expected:
        return ChainCheck(
            count,
            previous,
            None,
            f"the noted head {expected_head} is not in the chain: entries were removed "
            "from its end or the chain was rewritten",
        )
    return ChainCheck(count, previous)


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    page: int
    pages: int
    everyone: bool


@requires(Permission.AUDIT_READ_OWN)
def list_entries(
    session: Session, actor: Principal, page: int = 1, per_page: int = 50
) -> AuditPage:
    """Newest first. Supervisors see every entry; others what they did or what was done
    to their account."""
    everyone = has_permission(actor, Permission.AUDIT_READ_ALL)
    query = select(AuditEntry)
    if not everyone:
        query = query.where(
            or_(
                AuditEntry.actor == actor.username,
                AuditEntry.target == officer_target(actor.username),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    entries = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return AuditPage(entries=list(entries), page=page, pages=pages, everyone=everyone)


def _check_link(
    entry: AuditEntry, expected_id: int, previous: str, count: int
) -> ChainCheck | None:
    """The first break ``entry`` shows as the chain's next link, or None if it holds."""
    if entry.id != expected_id:
        missing = f"entry {expected_id} is missing" if entry.id > expected_id else "reused id"
        return ChainCheck(count, previous, expected_id, f"{missing} (found id {entry.id})")
    if entry.prev_hash != previous:
        return ChainCheck(
            count,
            previous,
            entry.id,
            f"entry {entry.id} does not follow entry {entry.id - 1}: "
            "an entry before it was removed, inserted or altered",
        )
    if entry_hash(entry) != entry.hash:
        return ChainCheck(count, previous, entry.id, f"entry {entry.id} was altered")
    return None


def _in_order(session: Session) -> ScalarResult[AuditEntry]:
    """The log in id order, fetched in batches. Use it in ``with``: a check that stops at
    a break must close the cursor, or on PostgreSQL the transaction stays open holding it
    (and locks with it) until the session ends."""
    return session.scalars(
        select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=500)
    )


def _lock_for_append(session: Session) -> None:
    """Serialise appenders until commit, so two never read the same head.

    SQLite: a write that changes nothing takes the database's write lock first, and no
    other writer can commit while it is held. PostgreSQL: a table lock that lets readers
    through. The unique ``prev_hash`` is the last line: a fork is refused, never stored.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        session.execute(text("DELETE FROM audit_entries WHERE 0"))
    elif dialect == "postgresql":
        session.execute(text("LOCK TABLE audit_entries IN SHARE ROW EXCLUSIVE MODE"))


def _format_time(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
