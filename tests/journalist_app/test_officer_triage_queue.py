from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event
from sqlalchemy.orm import Session

from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.errors import PermissionDenied
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, ReportTriage
from journalist_app.triage import statuses
from journalist_app.triage.categories import category_priority, sla_for
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.queue import (
    Cursor,
    QueueFilters,
    parse_filters,
    queue_page,
    sla_state,
    with_counts,
)
from journalist_app.triage.workflow import assign_case, change_status, set_territory
from tests.conftest import BOTH_ENGINES
from tests.support.triage import TriageWorld, make_world

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

NOW = datetime(2026, 11, 29, 12)
READER = UnlockedKeyring(username="reader", role="analyst", officer_id=1)


@pytest.fixture
def world(tmp_path, officer_database_url) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


def _ids(session: Session, filters: QueueFilters | None = None, **kwargs) -> list[int]:
    page = queue_page(session, READER, filters or QueueFilters(), now=NOW, limit=200, **kwargs)
    return [row.case.id for row in page.rows]


def _case_of(world: TriageWorld, report_id: str) -> int:
    return world.session.get(ReportTriage, report_id).case_id


def test_child_abuse_terrorism_and_threats_to_life_come_first_then_the_oldest(world) -> None:
    hour = datetime(2026, 11, 28, 0)
    made = {
        name: world.add_report({"category": name}, received=hour + timedelta(hours=offset))
        for name, offset in [
            ("fraud", 0),
            ("other", 1),
            ("threat_to_life", 5),
            ("incitement", 2),
            ("child_abuse", 4),
            ("terrorism", 3),
        ]
    }
    index_pending(world.session, world.store, world.supervisor)

    order = _ids(world.session)

    names = {_case_of(world, report): name for name, report in made.items()}
    assert [names[i] for i in order] == [
        "terrorism",
        "child_abuse",
        "threat_to_life",
        "incitement",
        "fraud",
        "other",
    ]
    assert [category_priority(names[i]) for i in order] == [1, 1, 1, 2, 3, 4]


def test_a_report_nobody_has_read_ranks_as_urgent(world) -> None:
    world.add_report({"category": "terrorism"}, received=datetime(2026, 11, 28, 5))
    unread = world.add_report({"category": "other"}, received=datetime(2026, 11, 28, 1))
    order = _ids(world.session)
    assert order[0] == _case_of(world, unread)
    assert world.session.get(Case, order[0]).priority == 1
    page = with_counts(
        world.session, queue_page(world.session, READER, QueueFilters(), now=NOW), NOW
    )
    assert page.unread_count == 2

    index_pending(world.session, world.store, world.supervisor)

    assert world.session.get(Case, _case_of(world, unread)).priority == 4
    assert _ids(world.session)[-1] == _case_of(world, unread)


def test_deadlines_follow_priority_and_flag_overdue_cases(world) -> None:
    urgent = world.add_report({"category": "threat_to_life"}, received=NOW - timedelta(hours=3))
    soon = world.add_report({"category": "terrorism"}, received=NOW - timedelta(minutes=90))
    fine = world.add_report({"category": "fraud"}, received=NOW - timedelta(hours=3))
    done = world.add_report({"category": "child_abuse"}, received=NOW - timedelta(hours=5))
    index_pending(world.session, world.store, world.supervisor)
    change_status(world.session, world.analyst, _case_of(world, done), "triaged", now=NOW)

    page = with_counts(
        world.session, queue_page(world.session, READER, QueueFilters(), now=NOW), NOW
    )

    states = {row.case.id: (row.sla_state, row.sla_left) for row in page.rows}
    assert states[_case_of(world, urgent)] == ("overdue", timedelta(hours=-1))
    assert states[_case_of(world, soon)] == ("due_soon", timedelta(minutes=30))
    assert states[_case_of(world, fine)] == ("running", timedelta(hours=69))
    assert states[_case_of(world, done)][0] == "missed"
    assert page.overdue_count == 1
    overdue_only = _ids(world.session, QueueFilters(overdue=True))
    assert overdue_only == [_case_of(world, urgent)]
    assert sla_for(1) == timedelta(hours=2) and sla_for(4) == timedelta(days=7)


def test_a_case_triaged_in_time_says_so(world) -> None:
    report = world.add_report({"category": "hate"}, received=NOW - timedelta(hours=1))
    index_pending(world.session, world.store, world.supervisor)
    case = change_status(world.session, world.analyst, _case_of(world, report), "triaged", now=NOW)
    assert sla_state(case, NOW + timedelta(days=30))[0] == "met"


def test_filters_narrow_the_queue(world) -> None:
    day = datetime(2026, 11, 20, 10)
    fraud = world.add_report({"category": "fraud"}, received=day)
    hate = world.add_report({"category": "hate"}, received=day + timedelta(days=2))
    terror = world.add_report({"category": "terrorism"}, received=day + timedelta(days=4))
    index_pending(world.session, world.store, world.supervisor)
    fraud_case, hate_case, terror_case = (_case_of(world, r) for r in (fraud, hate, terror))
    set_territory(world.session, world.analyst, fraud_case, "01.511", NOW)  # Tanger-Assilah
    set_territory(world.session, world.analyst, hate_case, "01.571", NOW)  # Tétouan
    set_territory(world.session, world.analyst, terror_case, "02.411", NOW)  # Oujda-Angad
    assign_case(world.session, world.supervisor, hate_case, world.analyst.officer_id, NOW)
    change_status(world.session, world.analyst, terror_case, "triaged", now=NOW)
    change_status(world.session, world.analyst, terror_case, "referred", now=NOW)

    def ids(**filters) -> set[int]:
        return set(
            _ids(world.session, QueueFilters(**filters), officer_id=world.analyst.officer_id)
        )

    assert ids() == {fraud_case, hate_case}, "open cases by default"
    assert ids(status="all") == {fraud_case, hate_case, terror_case}
    assert ids(status="referred") == {terror_case}
    assert ids(status="all", category="terrorism") == {terror_case}
    assert ids(territory="01.511") == {fraud_case}
    assert ids(status="all", territory="region:01") == {fraud_case, hate_case}
    assert ids(status="all", territory="region:99") == set()
    assert ids(assignee="me") == {hate_case}
    assert ids(assignee=str(world.analyst.officer_id)) == {hate_case}
    assert ids(assignee="none") == {fraud_case}
    assert ids(status="all", received_from=date(2026, 11, 22)) == {hate_case, terror_case}
    assert ids(status="all", received_to=date(2026, 11, 22)) == {fraud_case, hate_case}
    assert ids(status="all", received_from=date(2026, 11, 21), received_to=date(2026, 11, 23)) == {
        hate_case
    }


def test_filters_from_a_query_string_ignore_what_is_malformed() -> None:
    filters = parse_filters(
        {"status": "deleted", "category": "<b>", "territory": "region:01", "from": "2026-13-01"}
    )
    assert filters == QueueFilters(territory="region:01")
    assert parse_filters(filters.as_args()) == filters


def test_the_queue_needs_a_role_that_lists_reports(world) -> None:
    nobody = UnlockedKeyring(username="x", role="admin")
    with pytest.raises(PermissionDenied):
        queue_page(world.session, nobody, QueueFilters(), now=NOW)


@pytest.mark.parametrize(
    "text_cursor", ["", "1.2", "0.1.1", "1.x.3", "1.999999999999999999.1", "a"]
)
def test_malformed_cursors_are_ignored(text_cursor) -> None:
    assert Cursor.decode(text_cursor) is None


# --- keyset paging ---------------------------------------------------------------------------


def _memory_session() -> Session:
    engine = make_engine("sqlite://")
    create_schema(engine)
    return make_session_factory(engine)()


def _insert_cases(session: Session, specs: list[tuple[int, int, str]]) -> None:
    base = datetime(2026, 11, 1)
    for priority, hour, status in specs:
        received = base + timedelta(hours=hour)
        session.add(
            Case(
                priority=priority,
                received=received,
                sla_due_at=received + sla_for(priority),
                status=status,
                is_open=status in statuses.OPEN_STATUSES,
                report_count=1,
            )
        )
    session.commit()


case_specs = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.integers(0, 4),  # few distinct hours: many ties on (priority, received)
        st.sampled_from([*statuses.STATUSES, statuses.MERGED]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=case_specs, page_size=st.integers(1, 7), status=st.sampled_from(["open", "all"]))
def test_paging_forward_and_back_yields_every_case_once_in_order(specs, page_size, status) -> None:
    session = _memory_session()
    _insert_cases(session, specs)
    filters = QueueFilters(status=status)
    everything = sorted(
        (
            (case.priority, case.received, case.id)
            for case in session.query(Case)
            if case.status != statuses.MERGED and (status == "all" or case.is_open)
        ),
    )
    expected = [key[2] for key in everything]

    forward: list[int] = []
    cursor = None
    for _ in range(len(expected) + 2):
        page = queue_page(session, READER, filters, after=cursor, limit=page_size, now=NOW)
        assert len(page.rows) <= page_size
        forward += [row.case.id for row in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert forward == expected

    backward: list[int] = []
    before = Cursor(9, datetime(9999, 1, 1), 2**62)
    for _ in range(len(expected) + 2):
        page = queue_page(session, READER, filters, before=before, limit=page_size, now=NOW)
        backward = [row.case.id for row in page.rows] + backward
        if page.previous_cursor is None:
            break
        before = page.previous_cursor
    assert backward == expected
    session.close()


def test_a_case_added_while_paging_neither_repeats_nor_hides_the_others() -> None:
    session = _memory_session()
    _insert_cases(session, [(3, hour, "new") for hour in range(6)])
    first = queue_page(session, READER, QueueFilters(), limit=3, now=NOW)
    _insert_cases(session, [(1, 0, "new")])  # more urgent: lands before the cursor
    second = queue_page(session, READER, QueueFilters(), after=first.next_cursor, limit=3, now=NOW)
    seen = [row.case.id for row in first.rows + second.rows]
    assert seen == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (QueueFilters(), "ix_cases_open_queue"),
        (QueueFilters(status="closed"), "ix_cases_status_queue"),
        (QueueFilters(status="all", category="fraud"), "ix_cases_category_queue"),
        (QueueFilters(status="all", territory="01.511"), "ix_cases_territory_queue"),
        (QueueFilters(status="all", territory="region:01"), "ix_cases_region_queue"),
    ],
)
def test_a_queue_page_is_an_index_range_scan_without_sorting(filters, index) -> None:
    session = _memory_session()
    _insert_cases(session, [(p, h, "new") for p in (1, 2, 3) for h in range(3)])
    statements: list[tuple[str, object]] = []
    engine = session.get_bind()

    def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    cursor = Cursor(2, datetime(2026, 11, 1, 1), 5)
    queue_page(session, READER, filters, after=cursor, limit=50, now=NOW)
    event.remove(engine, "before_cursor_execute", capture)

    [(statement, parameters)] = statements
    # SQLAlchemy writes "LIMIT ? OFFSET ?" for SQLite; the offset must stay 0.
    assert "OFFSET ?" not in statement.upper() or parameters[-1] == 0
    plan = " | ".join(
        str(row[-1])
        for row in session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN " + statement, parameters
        )
    )
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan, plan
