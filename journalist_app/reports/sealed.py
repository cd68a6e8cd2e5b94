"""The one door to decryption on the officer host: permission, keys and audit entry.

Every stored envelope an officer's keyring opens — a report body read or indexed, an
attachment downloaded, pictured or hashed, an identity revealed — is opened by
:func:`open_sealed`. It checks that the keyring's role holds the purpose's permission,
opens with only the keys the purpose may use (identity sections with identity keys,
never intake keys: docs/invariants.md, 5), and appends the purpose's audit entry to the
caller's transaction (docs/invariants.md, 7 and 11). A view cannot forget either: it
names a purpose, and the rest follows from the table below.
"""

import io
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from sqlalchemy.orm import Session

from crypto.envelope import OpenedEnvelope, Writable, open_stream
from crypto.errors import EnvelopeError, NoMatchingRecipient
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.errors import OfficerError
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import ReportBlob
from journalist_app.roles import Permission, check_permission
from journalist_app.sync.blob_store import BlobStore

KeySet = Literal["intake", "identity"]


@dataclass(frozen=True)
class Rule:
    """What one purpose of decryption needs and leaves behind."""

    permission: Permission
    keys: KeySet
    kinds: frozenset[str]
    # The audit action appended on success. None only where the opening is part of an
    # audited parent action, named in ``covered_by``.
    action: str | None
    covered_by: str = ""


class Purpose(Enum):
    """Why an envelope is opened; each purpose has exactly one rule."""

    READ_REPORT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"report", "followup"}),
        audit.Action.REPORT_OPENED,
    )
    INDEX_REPORT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"report", "followup"}),
        audit.Action.REPORT_INDEXED,
    )
    # Hashing and typing each attachment while its report is indexed.
    INDEX_ATTACHMENT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"attachment"}),
        None,
        covered_by=audit.Action.REPORT_INDEXED,
    )
    DOWNLOAD_ATTACHMENT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"attachment"}),
        audit.Action.ATTACHMENT_DOWNLOADED,
    )
    PICTURE_ATTACHMENT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"attachment"}),
        audit.Action.ATTACHMENT_THUMBNAIL,
    )
    # Every diagnostic of one file, on an officer's request (diagnostics/files.py).
    DIAGNOSE_ATTACHMENT = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"attachment"}),
        audit.Action.ATTACHMENT_DIAGNOSED,
    )
    # The unit's copy of a reply (reports/replies.py), shown in its case's thread.
    READ_REPLY = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"reply"}),
        audit.Action.REPLY_OPENED,
    )
    # An internal note between officers (triage/notes.py), a ``reply`` envelope.
    READ_NOTE = Rule(
        Permission.REPORTS_READ,
        "intake",
        frozenset({"reply"}),
        audit.Action.NOTE_OPENED,
    )
    # A report body, attachment or identity section opened to build a referral packet
    # (journalist_app/referral/packet.py): each opening audited with the packet's reference.
    REFER_REPORT = Rule(
        Permission.REFERRALS_SEND,
        "intake",
        frozenset({"report", "followup"}),
        audit.Action.REFERRAL_EVIDENCE,
    )
    REFER_ATTACHMENT = Rule(
        Permission.REFERRALS_SEND,
        "intake",
        frozenset({"attachment"}),
        audit.Action.REFERRAL_EVIDENCE,
    )
    # Only with a supervisor's approval, named in the referral (identity keys only).
    REFER_IDENTITY = Rule(
        Permission.IDENTITY_REVEAL,
        "identity",
        frozenset({"identity"}),
        audit.Action.REFERRAL_EVIDENCE,
    )
    REVEAL_IDENTITY = Rule(
        Permission.IDENTITY_REVEAL,
        "identity",
        frozenset({"identity"}),
        audit.Action.IDENTITY_REVEALED,
    )

    @property
    def rule(self) -> Rule:
        value: Rule = self.value
        return value


class SealedUnreadable(OfficerError):
    """The envelope does not open, is too large for its purpose, or is of the wrong kind."""


class NotSealedToYou(SealedUnreadable):
    """None of the keys this purpose may use is a recipient of the envelope."""


def open_sealed(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    blob: ReportBlob,
    purpose: Purpose,
    sink: Writable,
    *,
    max_bytes: int,
    target: str = "",
    details: Mapping[str, Any] | None = None,
) -> OpenedEnvelope:
    """Open ``blob`` into ``sink`` for ``purpose``; the audit entry joins the transaction.

    Raises :class:`~journalist_app.errors.PermissionDenied` before reading a byte when
    the keyring's role may not, :class:`NotSealedToYou` when no allowed key opens it,
    and :class:`SealedUnreadable` for anything else. On an error ``sink`` may hold a
    partial plaintext: the caller discards it. Nothing is committed here.
    """
    rule = purpose.rule
    check_permission(keyring, rule.permission)
    if blob.size > max_bytes:
        raise SealedUnreadable(f"{blob.name} is too large to open here ({blob.size} bytes)")
    keys = keyring.intake_identities() if rule.keys == "intake" else keyring.identity_section_keys()
    try:
        with store.open(blob.path) as source:
            opened = open_stream(source, sink, keys)
    except NoMatchingRecipient as exc:
        raise NotSealedToYou(f"{blob.name} is not sealed to a key you hold for this") from exc
    except (EnvelopeError, OSError) as exc:
        raise SealedUnreadable(f"{blob.name} does not open: {exc}") from exc
    if opened.metadata.kind not in rule.kinds:
        raise SealedUnreadable(f"{blob.name} is a {opened.metadata.kind!r} envelope")
    if rule.action is not None:
        audit.record(
            session,
            keyring,
            rule.action,
            target or audit.report_target(blob.report_id),
            {"report": blob.report_id, "file": blob.name, **(details or {})},
            now=utc_now(),
        )
    return opened


def open_sealed_envelope(
    session: Session,
    keyring: UnlockedKeyring,
    envelope: bytes,
    purpose: Purpose,
    *,
    target: str,
    details: Mapping[str, Any] | None = None,
    max_bytes: int = 4 * 1024 * 1024,
) -> bytes:
    """Open an envelope held in the database (a reply's unit copy, a note) for ``purpose``.

    The same checks and audit entry as :func:`open_sealed`; returns the plaintext, which
    the caller keeps in memory only.
    """
    rule = purpose.rule
    check_permission(keyring, rule.permission)
    if len(envelope) > max_bytes:
        raise SealedUnreadable(f"{target} is too large to open here")
    keys = keyring.intake_identities() if rule.keys == "intake" else keyring.identity_section_keys()
    sink = io.BytesIO()
    try:
        opened = open_stream(io.BytesIO(envelope), sink, keys)
    except NoMatchingRecipient as exc:
        raise NotSealedToYou(f"{target} is not sealed to a key you hold for this") from exc
    except EnvelopeError as exc:
        raise SealedUnreadable(f"{target} does not open: {exc}") from exc
    if opened.metadata.kind not in rule.kinds:
        raise SealedUnreadable(f"{target} is a {opened.metadata.kind!r} envelope")
    if rule.action is not None:
        audit.record(session, keyring, rule.action, target, dict(details or {}), now=utc_now())
    return sink.getvalue()
