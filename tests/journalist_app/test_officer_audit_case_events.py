"""The case history is checked against the audit chain: an officer's event cannot be
rewritten or added in the table alone (issue 9, item 6; journalist_app/audit_derived.py)."""

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import select, text

from journalist_app.audit_derived import check_case_events
from journalist_app.models import Officer, ReportTriage
from journalist_app.triage import statuses
from journalist_app.triage.grouping import split_case
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import assign_case, change_status
from tests.support.triage import TriageWorld, make_world

NOW = datetime(2026, 11, 29, 9)


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def worked(world) -> int:
    """A case an analyst took, moved forward and split; the system grouped it at ingest."""
    first = world.add_report({"category": "fraud", "urls": ["https://shop.example/a"]})
    second = world.add_report({"category": "fraud", "urls": ["https://shop.example/a"]})
    index_pending(world.session, world.store, world.supervisor)
    case_id = world.session.get(ReportTriage, first).case_id
    omar = world.session.scalar(select(Officer.id).where(Officer.username == "omar"))
    assign_case(world.session, world.supervisor, case_id, omar, NOW)
    change_status(world.session, world.analyst, case_id, statuses.TRIAGED, now=NOW)
    split_case(world.session, world.supervisor, case_id, [second], NOW)
    return case_id


def test_the_history_of_real_work_matches_the_audit_log(world, worked) -> None:
    assert check_case_events(world.session) == ""


@pytest.mark.parametrize(
    "edit",
    [
        "UPDATE case_events SET actor = 'someone_else' WHERE action = 'case.assigned'",
        "UPDATE case_events SET action = 'case.merged' WHERE action = 'case.status_changed'",
        'UPDATE case_events SET details = \'{"to": "closed"}\' '
        "WHERE action = 'case.status_changed'",
        "INSERT INTO case_events (case_id, at, actor, action, details) "
        "SELECT case_id, at, 'sara', 'case.assigned', '{}' FROM case_events LIMIT 1",
    ],
    ids=["officer", "action", "details", "added"],
)
def test_an_officer_event_rewritten_or_added_in_the_table_alone_is_caught(
    world, worked, edit
) -> None:
    world.session.execute(text(edit))
    world.session.commit()
    assert "case history event(s) not in the audit log" in check_case_events(world.session)
