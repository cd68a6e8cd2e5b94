"""Officers' actions on a case: status, assignment, territory, replies to reporters.

Each action checks the officer's permission (roles.py), refuses what the workflow does
not allow, writes the case history and the audit log in the same transaction, and, when
what a reporter should see changes, queues their reply for the next sync (notify.py).
"""

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import CLOSE_REASONS, MAX_REPLY_MESSAGE_CHARS
from journalist_app.clock import utc_now
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, Officer, Reply, ReportTriage
from journalist_app.reports.replies import queue_reply
from journalist_app.roles import ROLE_PERMISSIONS, Permission, Principal, requires
from journalist_app.triage import statuses
from journalist_app.triage.errors import (
    CaseNotFound,
    InvalidTransition,
    MissingCloseReason,
    UnknownOfficer,
    UnknownTerritory,
)
from journalist_app.triage.events import TriageAction, record_case_event
from journalist_app.triage.notify import notify_reporters
from journalist_app.triage.reply_templates import reporter_language, template
from journalist_app.triage.search_index import index_text
from journalist_app.triage.territories import territories


def get_case(session: Session, case_id: int) -> Case:
    """A case an officer can act on (not a merged record)."""
    case = session.get(Case, case_id)
    if case is None or case.status == statuses.MERGED:
        raise CaseNotFound(f"no case {case_id}")
    return case


@requires(Permission.CASES_UPDATE)
def change_status(
    session: Session,
    actor: Principal,
    case_id: int,
    to_status: str,
    reason: str | None = None,
    now: datetime | None = None,
) -> Case:
    """Move a case along the workflow (statuses.py); the reporters are told. Commits."""
    now = now or utc_now()
    case = get_case(session, case_id)
    if not statuses.can_move(case.status, to_status):
        raise InvalidTransition(f"a {case.status} case cannot become {to_status}")
    if to_status == statuses.CLOSED:
        if reason not in CLOSE_REASONS:
            raise MissingCloseReason("closing a case needs a reason from the list")
    else:
        reason = None
    previous = case.status
    case.status, case.close_reason = to_status, reason
    case.is_open = to_status in statuses.OPEN_STATUSES
    if case.triaged_at is None:
        case.triaged_at = now
    case.updated_at = now
    record_case_event(
        session,
        case.id,
        actor,
        TriageAction.STATUS_CHANGED,
        {"from": previous, "to": to_status, "reason": reason},
        now=now,
    )
    notify_reporters(session, case, now)
    session.commit()
    return case


def assignable_officers(session: Session) -> list[Officer]:
    """Officers whose role may work on cases."""
    roles = [
        role.value
        for role, granted in ROLE_PERMISSIONS.items()
        if Permission.CASES_UPDATE in granted
    ]
    return list(
        session.scalars(select(Officer).where(Officer.role.in_(roles)).order_by(Officer.username))
    )


@requires(Permission.CASES_ASSIGN)
def assign_case(
    session: Session,
    actor: Principal,
    case_id: int,
    officer_id: int | None,
    now: datetime | None = None,
) -> Case:
    """Give a case to an officer, or to nobody. Commits."""
    now = now or utc_now()
    case = get_case(session, case_id)
    officer = session.get(Officer, officer_id) if officer_id is not None else None
    if officer_id is not None and (officer is None or officer not in assignable_officers(session)):
        raise UnknownOfficer(f"no officer {officer_id} who can work on cases")
    previous = session.get(Officer, case.assignee_id) if case.assignee_id else None
    case.assignee_id, case.updated_at = officer_id, now
    record_case_event(
        session,
        case.id,
        actor,
        TriageAction.ASSIGNED,
        {
            "from": previous.username if previous else None,
            "to": officer.username if officer else None,
        },
        now=now,
    )
    session.commit()
    return case


@requires(Permission.CASES_UPDATE)
def set_territory(
    session: Session,
    actor: Principal,
    case_id: int,
    code: str | None,
    now: datetime | None = None,
) -> Case:
    """Say which prefecture or province the case belongs to (for referral). Commits."""
    now = now or utc_now()
    case = get_case(session, case_id)
    territory = territories().get(code) if code is not None else None
    if code is not None and territory is None:
        raise UnknownTerritory(f"no territory {code!r}")
    previous = case.territory_code
    case.territory_code, case.updated_at = code, now
    case.region_code = territory.region_code if territory else None
    record_case_event(
        session, case.id, actor, TriageAction.TERRITORY_SET, {"from": previous, "to": code}, now=now
    )
    session.commit()
    return case


def report_of_case(session: Session, case_id: int, report_id: str) -> ReportTriage:
    triage = session.get(ReportTriage, report_id)
    if triage is None or triage.case_id != case_id:
        raise CaseNotFound(f"report {report_id} is not in case {case_id}")
    return triage


@requires(Permission.REPLIES_SEND)
def send_reply(
    session: Session,
    actor: Principal,
    case_id: int,
    report_id: str,
    template_id: str,
    message: str,
    now: datetime | None = None,
) -> Reply:
    """Seal a message to one report's reporter, for the next sync. Commits.

    The text rests only sealed: to the reporter, and to the unit (reports/replies.py) so
    the case's thread shows it; the history notes the template, the language and whether
    the officer edited it.
    """
    now = now or utc_now()
    get_case(session, case_id)
    triage = report_of_case(session, case_id, report_id)
    chosen = template(template_id)
    language = reporter_language(triage.language)
    message = message.strip()
    if not message or len(message) > MAX_REPLY_MESSAGE_CHARS:
        raise InvalidTransition("a reply needs a message of reasonable length")
    record_case_event(
        session,
        case_id,
        actor,
        TriageAction.REPLY_QUEUED,
        {
            "report": report_id,
            "template": chosen.id,
            "language": language,
            "edited": message != chosen.text(language),
        },
        now=now,
    )
    if isinstance(actor, UnlockedKeyring):
        index_text(session, actor, message, source="reply", report_id=report_id)
    return queue_reply(
        session, report_id, author=actor.username, message=message, now=now.replace(tzinfo=UTC)
    )
