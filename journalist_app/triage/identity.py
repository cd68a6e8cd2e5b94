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
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import IdentityReveal, Report
from journalist_app.reports.sealed import NotSealedToYou, Purpose, SealedUnreadable, open_sealed
from journalist_app.roles import Permission, requires
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.binding import IDENTITY_PROBLEMS, binding_of, problems_of
from journalist_app.triage.errors import IdentityKeyMissing, IdentityNotBound, RevealRefused
from journalist_app.triage.events import TriageAction, case_target, record_case_event
from journalist_app.triage.ingest import index_report
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
    # The body binds its identity (docs/envelope.md, version 2): checked when the report
    # was read, and the sealed binding again below, before anything is shown.
    bound = binding_of(session, report_id)
    if bound is None:
        # Not read yet: read it now (as the case page would), so the binding is known.
        index_report(session, store, keyring, report_id, now, commit=False)
        bound = binding_of(session, report_id)
    problems = [p for p in problems_of(bound) if p in IDENTITY_PROBLEMS]
    if bound is None or bound.binding is None or problems:
        _refuse_unbound(session, keyring, case_id, report_id, problems or ["identity_unbound"])
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
    if bound is None or identity.binding != bound.binding:
        # Opened (and audited as such), but it belongs to another submission: not shown.
        _refuse_unbound(session, keyring, case_id, report_id, ["identity_binding"])
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


def _refuse_unbound(
    session: Session,
    keyring: UnlockedKeyring,
    case_id: int,
    report_id: str,
    problems: list[str],
) -> None:
    """Audit a reveal refused because the identity is not bound to the report, and raise."""
    audit.record(
        session,
        keyring,
        audit.Action.IDENTITY_BINDING_REFUSED,
        case_target(case_id),
        {"report": report_id, "problems": problems},
    )
    session.commit()
    raise IdentityNotBound(f"the identity of report {report_id} is not bound to it: {problems}")


def reveals_of(session: Session, case_id: int) -> list[IdentityReveal]:
    """Every reveal made for this case, newest first (shown on the case page)."""
    return list(
        session.scalars(
            select(IdentityReveal)
            .where(IdentityReveal.case_id == case_id)
            .order_by(IdentityReveal.at.desc(), IdentityReveal.id.desc())
        )
    )
