"""Revealing a reporter's identity: a supervisor, one report of one case, a written reason.

Invariant 5 (docs/invariants.md): the identity section is sealed apart from the report, hidden
by default, and revealed only to an allowed role with a stated reason, logged. The
reveal is recorded (``identity_reveals``, the case history and the audit log) and
committed *before* the identity is returned, so nobody sees one that was not logged.
The identity itself is never stored in the clear: each reveal decrypts it again.

The section is sealed to the unit's identity keys and the recovery key, never to an
intake key (crypto/recipients.py), and only the roles that may reveal hold an identity
key (roles.ROLE_UNIT_KEYS). So it opens here with the identity keys (or a recovery key
put back into service) and nothing else: an officer who reads reports but may not
reveal cannot decrypt an identity, with this code or without it.
"""

import io
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ContentError, IdentitySection
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import IdentityReveal, Report
from journalist_app.reports.sealed import NotSealedToYou, Purpose, SealedUnreadable, open_sealed
from journalist_app.roles import Permission, requires
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.errors import IdentityKeyMissing, RevealRefused
from journalist_app.triage.events import TriageAction, case_target, record_case_event
from journalist_app.triage.workflow import get_case, report_of_case

MIN_REASON_CHARS = 20
MAX_REASON_CHARS = 2000
MAX_IDENTITY_BYTES = 64 * 1024


@requires(Permission.IDENTITY_REVEAL)
def reveal_identity(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    case_id: int,
    report_id: str,
    reason: str,
    now: datetime | None = None,
) -> IdentitySection:
    """Decrypt the identity of one report's reporter, after logging who, when and why.

    Opens with ``keyring``'s identity keys only; :class:`IdentityKeyMissing` (a
    :class:`RevealRefused`) if none of them is a recipient of the section.
    """
    now = now or utc_now()
    reason = " ".join(reason.split())
    if len(reason) < MIN_REASON_CHARS:
        raise RevealRefused(f"a reason of at least {MIN_REASON_CHARS} characters is needed")
    if len(reason) > MAX_REASON_CHARS:
        raise RevealRefused(f"a reason is at most {MAX_REASON_CHARS} characters")
    get_case(session, case_id)
    report_of_case(session, case_id, report_id)
    report = session.get(Report, report_id)
    blob = report.blob("identity") if report is not None else None
    if blob is None:
        raise RevealRefused("the reporter of this report stayed anonymous")
    if blob.size > MAX_IDENTITY_BYTES:
        raise RevealRefused("the identity section is too large to be one")
    if not keyring.identity_section_keys():
        raise IdentityKeyMissing(f"{keyring.username!r} holds no identity key")
    content = io.BytesIO()
    try:
        # Checks identity.reveal and adds the "identity.revealed" audit entry.
        open_sealed(
            session,
            store,
            keyring,
            blob,
            Purpose.REVEAL_IDENTITY,
            content,
            max_bytes=MAX_IDENTITY_BYTES,
            target=case_target(case_id),
            details={"reason": reason},
        )
        identity = IdentitySection.from_json(content.getvalue())
    except NotSealedToYou as exc:
        raise IdentityKeyMissing(
            "the identity section is not sealed to an identity key you hold"
        ) from exc
    except (SealedUnreadable, ContentError) as exc:
        raise RevealRefused(f"the identity section does not open: {exc}") from exc
    session.add(
        IdentityReveal(
            case_id=case_id, report_id=report_id, officer=keyring.username, reason=reason, at=now
        )
    )
    record_case_event(
        session,
        case_id,
        keyring,
        TriageAction.IDENTITY_REVEALED,
        {"report": report_id, "reason": reason},
        now=now,
        audit_log=False,
    )
    session.commit()
    return identity


def reveals_of(session: Session, case_id: int) -> list[IdentityReveal]:
    """Every reveal made for this case, newest first (shown on the case page)."""
    return list(
        session.scalars(
            select(IdentityReveal)
            .where(IdentityReveal.case_id == case_id)
            .order_by(IdentityReveal.at.desc(), IdentityReveal.id.desc())
        )
    )
