"""Tables that repeat the audit log, checked against it (issue 9, item 6).

The identity reveals shown on a case page (``identity_reveals``) are written beside the
audit entry of the same reveal, in the same transaction. The audit chain is anchored
outside the database (journalist_app/audit_anchor.py); the table is not. So ``audit
verify`` derives the reveals from the chain and compares: a reveal whose officer, case,
report or reason was rewritten in the table, or one added or removed there, no longer
matches an entry of the chain.

The case history (``case_events``) is checked the same way in one direction: every event
an officer did is written with an audit entry of the same officer, action, case and
details (journalist_app/triage/events.py), so an event whose officer, action or details
were rewritten in the table, or one added there, matches none. Events removed from the
table are not looked for: purge removes a case's history by design (its tombstone stays
in the chain). System events (grouping at ingest) and the two kinds the decryption
itself audits with other details (downloads, reveals — compared above) are left out.
"""

import json
from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from journalist_app.audit import Action, canonical_details
from journalist_app.models import CaseEvent, IdentityReveal
from journalist_app.models.audit import AuditEntry
from journalist_app.triage.events import SYSTEM, TriageAction

Reveal = tuple[str, str, str, str]


def reveals_from_chain(session: Session) -> Counter[Reveal]:
    """(officer, case target, report id, reason) of every reveal the audit chain records."""
    found: Counter[Reveal] = Counter()
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == Action.IDENTITY_REVEALED)
    )
    for entry in entries:
        details = json.loads(entry.details)
        found[
            (entry.actor, entry.target, str(details.get("report")), str(details.get("reason")))
        ] += 1
    return found


def check_reveals(session: Session) -> str:
    """ "" when ``identity_reveals`` holds exactly the reveals of the chain, else the problem."""
    table: Counter[Reveal] = Counter(
        (row.officer, f"case:{row.case_id}", row.report_id, row.reason)
        for row in session.scalars(select(IdentityReveal))
    )
    chain = reveals_from_chain(session)
    if table == chain:
        return ""
    extra, missing = table - chain, chain - table
    # A section opened (and logged) but found bound to another report is not shown, so it
    # has no row: the chain records that refusal right after (triage/identity.py).
    refused = _binding_refusals(session)
    for reveal in list(missing):
        officer, case, report, _reason = reveal
        excused = min(missing[reveal], refused[(officer, case, report)])
        refused[(officer, case, report)] -= excused
        missing[reveal] -= excused
    missing = +missing
    if not extra and not missing:
        return ""
    parts = []
    if extra:
        officer, case, _report, _reason = next(iter(extra))
        parts.append(
            f"{sum(extra.values())} recorded reveal(s) not in the audit log ({officer}, {case})"
        )
    if missing:
        officer, case, _report, _reason = next(iter(missing))
        parts.append(
            f"{sum(missing.values())} reveal(s) of the audit log not recorded as such "
            f"({officer}, {case})"
        )
    return "identity reveals differ from the audit log: " + "; ".join(parts)


def _binding_refusals(session: Session) -> Counter[tuple[str, str, str]]:
    found: Counter[tuple[str, str, str]] = Counter()
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action == Action.IDENTITY_BINDING_REFUSED)
    )
    for entry in entries:
        found[(entry.actor, entry.target, str(json.loads(entry.details).get("report")))] += 1
    return found


# (officer, action, case target, details). Not the time: a database may hand it back
# shifted by its own time zone, and a false alarm here would hide a real one.
CaseEventKey = tuple[str, str, str, str]
# Case events the decryption audits itself, with details of its own (reports/sealed.py).
_AUDITED_ELSEWHERE = frozenset({TriageAction.ATTACHMENT_DOWNLOADED, TriageAction.IDENTITY_REVEALED})


def check_case_events(session: Session) -> str:
    """ "" when every officer's case event has its audit entry, else the problem."""
    events: Counter[CaseEventKey] = Counter(
        (
            event.actor,
            event.action,
            f"case:{event.case_id}",
            canonical_details(event.details or {}),
        )
        for event in session.scalars(
            select(CaseEvent).where(
                CaseEvent.actor != SYSTEM, CaseEvent.action.not_in(_AUDITED_ELSEWHERE)
            )
        )
    )
    if not events:
        return ""
    chain: Counter[CaseEventKey] = Counter(
        (entry.actor, entry.action, entry.target, entry.details)
        for entry in session.scalars(
            select(AuditEntry).where(
                AuditEntry.action.in_({key[1] for key in events}),
                AuditEntry.target.like("case:%"),
            )
        )
    )
    unmatched = events - chain
    if not unmatched:
        return ""
    actor, action, case, _details = next(iter(unmatched))
    return (
        f"{sum(unmatched.values())} case history event(s) not in the audit log "
        f"(first: {actor}, {action}, {case}): the history was edited"
    )
