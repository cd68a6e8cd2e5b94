"""Internal notes between officers on a case: sealed to the unit at rest, like reports.

A note is written in the clear only in the request that adds it; it is sealed to the
unit's intake and recovery keys (reports/replies.py ``unit_recipients``) and opened for
each case page through reports/sealed.py. The case history records that a note was
added and by whom, never its text.
"""

from datetime import datetime

from sqlalchemy.orm import Session

from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import CaseNote
from journalist_app.reports.replies import unit_recipients
from journalist_app.roles import Permission, requires
from journalist_app.triage.errors import InvalidTransition
from journalist_app.triage.events import TriageAction, record_case_event
from journalist_app.triage.search_index import index_text
from journalist_app.triage.workflow import get_case

MAX_NOTE_CHARS = 20_000
# The envelope format has no officer-only kind, and notes never leave this host: a note
# is a ``reply`` envelope named "note", in plain text (docs/envelope.md).
NOTE_TYPE = "text/plain; charset=utf-8"


@requires(Permission.REPORTS_READ)
def add_note(
    session: Session,
    keyring: UnlockedKeyring,
    case_id: int,
    text: str,
    now: datetime | None = None,
) -> CaseNote:
    """Seal ``text`` as a note on ``case_id``; history and audit in the same commit."""
    now = now or utc_now()
    get_case(session, case_id)
    text = text.strip()
    if not text or len(text) > MAX_NOTE_CHARS:
        raise InvalidTransition("a note needs some text of reasonable length")
    note = CaseNote(
        case_id=case_id,
        author=keyring.username,
        at=now,
        envelope=seal_bytes(
            text.encode("utf-8"),
            unit_recipients(session),
            EnvelopeMetadata(kind="reply", name="note", content_type=NOTE_TYPE),
        ),
    )
    session.add(note)
    session.flush()
    index_text(session, keyring, text, source="note", case_id=case_id)
    record_case_event(
        session, case_id, keyring, TriageAction.NOTE_ADDED, {"note": note.id}, now=now
    )
    session.commit()
    return note
