"""A case's conversation in time order: reports, follow-ups, the unit's replies, notes.

Reports and follow-ups come from the case's report views (already decrypted for the
page). Replies are read from the unit's copy (reports/replies.py), notes from their
envelopes, both through reports/sealed.py and in memory only. A follow-up is marked as
coming from the same reporter as the report it follows, with that reporter's identity
state: an identity given once covers the reporter's later follow-ups.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ContentError, ReplyContent
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import CaseNote, Reply, ReplyCopy
from journalist_app.reports.sealed import Purpose, SealedUnreadable, open_sealed_envelope
from journalist_app.triage.binding import unverified_reports

if TYPE_CHECKING:
    from journalist_app.triage.cases import ReportView

MAX_REPLIES_SHOWN = 200
MAX_NOTES_SHOWN = 200

# Within one timestamp, what was written first comes first.
_ORDER = {"report": 0, "followup": 1, "reply": 2, "note": 3}


@dataclass(frozen=True)
class ReporterState:
    """Who wrote a report or follow-up, as far as the case knows without a reveal."""

    # The first report of this reporter in the case (for follow-ups: the one followed).
    first_report_id: str
    identity_given: bool


@dataclass(frozen=True)
class ThreadEntry:
    kind: str  # report, followup, reply, note
    at: datetime
    author: str = ""
    report_id: str = ""
    # report and followup entries: index into CaseView.reports
    report_index: int = -1
    reporter: ReporterState | None = None
    reply: ReplyContent | None = None
    text: str = ""
    # A reply or note whose envelope does not open with the keys held.
    unreadable: bool = False
    pushed_at: datetime | None = None


def build_thread(
    session: Session,
    keyring: UnlockedKeyring,
    case_id: int,
    reports: Sequence["ReportView"],
) -> list[ThreadEntry]:
    """Every entry of the case's conversation, oldest first. Audits each reply and note
    opened in the caller's transaction (reports/sealed.py)."""
    entries: list[ThreadEntry] = []
    first_by_reporter: dict[str, str] = {}
    identity_by_reporter: dict[str, bool] = {}
    # A submission whose signature did not verify is nobody's "same reporter" (binding.py).
    unverified = unverified_reports(session, [view.report.id for view in reports])
    for view in reports:
        report = view.report
        reporter_id = report.id if report.id in unverified else report.reporter_id
        first_by_reporter.setdefault(reporter_id, report.id)
        identity_by_reporter[reporter_id] = (
            identity_by_reporter.get(reporter_id, False) or view.identity_present
        )
    for index, view in enumerate(reports):
        report = view.report
        reporter_id = report.id if report.id in unverified else report.reporter_id
        entries.append(
            ThreadEntry(
                kind="followup" if report.kind == "followup" else "report",
                at=report.received_hour,
                report_id=report.id,
                report_index=index,
                reporter=ReporterState(
                    first_report_id=first_by_reporter[reporter_id],
                    identity_given=identity_by_reporter[reporter_id],
                ),
            )
        )
    report_ids = [view.report.id for view in reports]
    entries += _replies(session, keyring, report_ids)
    entries += _notes(session, keyring, case_id)
    entries.sort(key=lambda entry: (entry.at, _ORDER[entry.kind]))
    return entries


def _replies(
    session: Session, keyring: UnlockedKeyring, report_ids: list[str]
) -> list[ThreadEntry]:
    if not report_ids:
        return []
    rows = session.execute(
        select(Reply, ReplyCopy)
        .outerjoin(ReplyCopy, ReplyCopy.reply_id == Reply.id)
        .where(Reply.report_id.in_(report_ids))
        .order_by(Reply.created_at, Reply.id)
        .limit(MAX_REPLIES_SHOWN)
    ).all()
    entries = []
    for reply, copy in rows:
        content: ReplyContent | None = None
        if copy is not None:
            try:
                content = ReplyContent.from_json(
                    open_sealed_envelope(
                        session,
                        keyring,
                        copy.envelope,
                        Purpose.READ_REPLY,
                        target=f"reply:{reply.id}",
                        details={"report": reply.report_id},
                    )
                )
            except (SealedUnreadable, ContentError):
                content = None
        entries.append(
            ThreadEntry(
                kind="reply",
                at=reply.created_at,
                author=copy.author if copy is not None else "",
                report_id=reply.report_id,
                reply=content,
                unreadable=content is None,
                pushed_at=reply.pushed_at,
            )
        )
    return entries


def _notes(session: Session, keyring: UnlockedKeyring, case_id: int) -> list[ThreadEntry]:
    notes = session.scalars(
        select(CaseNote)
        .where(CaseNote.case_id == case_id)
        .order_by(CaseNote.at, CaseNote.id)
        .limit(MAX_NOTES_SHOWN)
    ).all()
    entries = []
    for note in notes:
        try:
            text = open_sealed_envelope(
                session,
                keyring,
                note.envelope,
                Purpose.READ_NOTE,
                target=f"note:{note.id}",
                details={"case": case_id},
            ).decode("utf-8")
            unreadable = False
        except (SealedUnreadable, UnicodeDecodeError):
            text, unreadable = "", True
        entries.append(
            ThreadEntry(
                kind="note", at=note.at, author=note.author, text=text, unreadable=unreadable
            )
        )
    return entries
