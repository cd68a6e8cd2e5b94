from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from journalist_app.errors import PermissionDenied
from journalist_app.models import Case, CaseEvent, Reply, ReportTriage
from journalist_app.models.audit import AuditEntry
from journalist_app.triage.errors import (
    CaseNotFound,
    InvalidTransition,
    MissingCloseReason,
    UnknownTerritory,
)
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.reply_templates import TEMPLATE_BY_ID
from journalist_app.triage.workflow import (
    assign_case,
    change_status,
    send_reply,
    set_territory,
)
from tests.conftest import BOTH_ENGINES
from tests.support.triage import TriageWorld, make_world

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

NOW = datetime(2026, 11, 29, 9)


def at(minute: int) -> datetime:
    return NOW + timedelta(minutes=minute)


@pytest.fixture
def world(tmp_path, officer_database_url) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def case_id(world) -> int:
    report = world.add_report({"category": "terrorism", "language": "ar"})
    index_pending(world.session, world.store, world.supervisor)
    triage = world.session.get(ReportTriage, report)
    return triage.case_id


def _only_report(world: TriageWorld, case_id: int) -> str:
    return world.session.scalar(
        select(ReportTriage.report_id).where(ReportTriage.case_id == case_id)
    )


def test_the_whole_workflow_tells_the_reporter_each_step_once(world, case_id) -> None:
    report = _only_report(world, case_id)
    steps = [
        ("triaged", None),
        ("under_investigation", None),
        ("referred", None),
        ("closed", "referred"),
    ]
    for minute, (status, reason) in enumerate(steps):
        change_status(world.session, world.analyst, case_id, status, reason, at(minute))

    told = [(r["status"], r["reason"]) for r in world.replies_to(report)]
    # under_investigation shows as under_review, already said: not repeated. No referral
    # packet was sent (journalist_app/referral/), so "referred" is never said: the case
    # reads under review, then closed as handled (tests/journalist_app/
    # test_officer_referral_web.py has the reporter told "referred" after a send).
    assert told == [("under_review", None), ("closed", "handled")]
    case = world.session.get(Case, case_id)
    assert (case.status, case.close_reason, case.is_open) == ("closed", "referred", False)
    history = world.session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id == case_id, CaseEvent.action == "case.status_changed")
        .order_by(CaseEvent.id)
    ).all()
    assert [(e.details["from"], e.details["to"], e.actor) for e in history] == [
        ("new", "triaged", "omar"),
        ("triaged", "under_investigation", "omar"),
        ("under_investigation", "referred", "omar"),
        ("referred", "closed", "omar"),
    ]
    assert [e.at for e in history] == [at(minute) for minute in range(4)]
    audited = world.session.scalars(
        select(AuditEntry.action).where(AuditEntry.target == f"case:{case_id}")
    ).all()
    assert audited.count("case.status_changed") == 4


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], "referred"),
        ([], "under_investigation"),
        (["triaged", "referred"], "triaged"),
        (["triaged", "referred"], "under_investigation"),
        ([("closed", "duplicate")], "referred"),
        ([], "new"),
        ([], "merged"),
    ],
)
def test_moves_the_workflow_does_not_allow_are_refused(world, case_id, path, refused) -> None:
    for step in path:
        status, reason = step if isinstance(step, tuple) else (step, None)
        change_status(world.session, world.analyst, case_id, status, reason, NOW)
    before = world.session.get(Case, case_id).status
    replies = world.session.query(Reply).count()
    with pytest.raises(InvalidTransition):
        change_status(world.session, world.analyst, case_id, refused, None, NOW)
    world.session.rollback()
    assert world.session.get(Case, case_id).status == before
    assert world.session.query(Reply).count() == replies


def test_closing_needs_a_listed_reason(world, case_id) -> None:
    for reason in (None, "bored"):
        with pytest.raises(MissingCloseReason):
            change_status(world.session, world.analyst, case_id, "closed", reason, NOW)
    change_status(world.session, world.analyst, case_id, "closed", "not_illegal", NOW)
    [reply] = world.replies_to(_only_report(world, case_id))
    assert (reply["status"], reply["reason"]) == ("closed", "not_illegal")


def test_a_closed_case_can_be_reopened(world, case_id) -> None:
    change_status(world.session, world.analyst, case_id, "closed", "insufficient_information", NOW)
    change_status(world.session, world.analyst, case_id, "triaged", None, at(1))
    statuses = [r["status"] for r in world.replies_to(_only_report(world, case_id))]
    assert statuses == ["closed", "under_review"]
    assert world.session.get(Case, case_id).is_open


def test_each_reporter_of_a_case_is_told_once(world) -> None:
    url = "https://example.org/viral"
    same_reporter = "cd" * 16
    first = world.add_report({"category": "hate", "urls": [url]}, reporter_id=same_reporter)
    again = world.add_report({"category": "hate"}, reporter_id=same_reporter, kind="followup")
    other = world.add_report({"category": "hate", "urls": [url]})
    index_pending(world.session, world.store, world.supervisor)
    case_id = world.session.get(ReportTriage, first).case_id
    assert world.session.get(ReportTriage, other).case_id == case_id
    assert world.session.get(ReportTriage, again).case_id == case_id

    change_status(world.session, world.analyst, case_id, "triaged", None, NOW)

    assert world.session.query(Reply).count() == 2
    assert [r["status"] for r in world.replies_to(other)] == ["under_review"]


def test_a_report_joining_a_case_under_review_is_told_so(world, case_id) -> None:
    change_status(world.session, world.analyst, case_id, "triaged", None, NOW)
    url_case = world.add_report({"category": "fraud", "urls": ["https://x.example/1"]})
    index_pending(world.session, world.store, world.supervisor)
    joined = world.add_report({"category": "fraud", "urls": ["https://x.example/1"]})
    first_case = world.session.get(ReportTriage, url_case).case_id
    change_status(world.session, world.analyst, first_case, "triaged", None, NOW)

    index_pending(world.session, world.store, world.supervisor)

    assert world.session.get(ReportTriage, joined).case_id == first_case
    assert [r["status"] for r in world.replies_to(joined)] == ["under_review"]


def test_a_new_case_tells_the_reporter_nothing(world, case_id) -> None:
    assert world.replies_to(_only_report(world, case_id)) == []


def test_roles_limit_who_changes_and_who_assigns(world, case_id) -> None:
    with pytest.raises(PermissionDenied):
        change_status(world.session, world.expert, case_id, "triaged", None, NOW)
    with pytest.raises(PermissionDenied):
        assign_case(world.session, world.analyst, case_id, world.analyst.officer_id, NOW)
    assign_case(world.session, world.supervisor, case_id, world.analyst.officer_id, NOW)
    assert world.session.get(Case, case_id).assignee_id == world.analyst.officer_id
    event = world.session.scalar(select(CaseEvent).where(CaseEvent.action == "case.assigned"))
    assert event.details == {"from": None, "to": "omar"} and event.actor == "sara"


def test_a_territory_comes_from_the_table(world, case_id) -> None:
    set_territory(world.session, world.analyst, case_id, "01.511", NOW)
    assert world.session.get(Case, case_id).territory_code == "01.511"
    with pytest.raises(UnknownTerritory):
        set_territory(world.session, world.analyst, case_id, "99.999", NOW)
    set_territory(world.session, world.analyst, case_id, None, NOW)
    assert world.session.get(Case, case_id).territory_code is None


@pytest.mark.parametrize(("language", "expected"), [("ar", "ar"), ("es", "es"), ("de", "ar")])
def test_a_template_reply_reaches_the_reporter_in_their_language(world, language, expected) -> None:
    report = world.add_report({"category": "fraud", "language": language})
    index_pending(world.session, world.store, world.supervisor)
    case_id = world.session.get(ReportTriage, report).case_id
    text = TEMPLATE_BY_ID["more_information"].text(language)
    assert text == TEMPLATE_BY_ID["more_information"].texts[expected]

    send_reply(world.session, world.analyst, case_id, report, "more_information", text, NOW)

    [reply] = world.replies_to(report)
    assert reply["message"] == text and reply["status"] is None
    event = world.session.scalar(select(CaseEvent).where(CaseEvent.action == "reply.queued"))
    assert event.details == {
        "report": report,
        "template": "more_information",
        "language": expected,
        "edited": False,
    }
    assert text not in str(event.details), "the officer host keeps no readable copy"


def test_a_reply_goes_only_to_a_report_of_the_case(world, case_id) -> None:
    stranger = world.add_report({"category": "fraud"})
    with pytest.raises(CaseNotFound):
        send_reply(world.session, world.analyst, case_id, stranger, "closed", "x", NOW)
    with pytest.raises(PermissionDenied):
        send_reply(
            world.session, world.expert, case_id, _only_report(world, case_id), "closed", "x", NOW
        )
