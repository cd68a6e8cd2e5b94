"""The dashboard's daily summary stays equal to a recount from the cases, whatever happens.

A seeded random run of what the unit does (reports arriving, some grouped; status
changes; territories; assignments; merges; splits; a hash-list label; purges), on SQLite
and on PostgreSQL. After every few steps: the stored summary equals a recount, the
first referral and first answer times on the cases equal those of the case history,
and the dashboard's figures read from the summary equal those counted from the cases.
"""

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import func, select, text

from journalist_app import clock
from journalist_app.cli.main import main
from journalist_app.database import make_engine, make_session_factory
from journalist_app.models import Case, CaseEvent, ReportTriage
from journalist_app.retention.purge import PurgeRefused, purge_case
from journalist_app.retention.rules import load_rules
from journalist_app.schema import alembic_config, upgrade_to_head
from journalist_app.stats import summary
from journalist_app.stats.figures import StatsFilter, compute
from journalist_app.triage import statuses
from journalist_app.triage.errors import TriageError
from journalist_app.triage.events import TriageAction
from journalist_app.triage.grouping import merge_cases, split_case
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import assign_case, change_status, set_territory
from tests.support.triage import TriageWorld, make_world

START = datetime(2026, 10, 1, 8)
NOW = datetime(2026, 12, 3, 12, 0)
CATEGORIES = ["fraud", "terrorism", "hate", "other", "child_abuse"]
TERRITORIES = ["04.441", "04.421", "06.141", "06.371", None]
URLS = [f"https://site{n}.example/" for n in range(6)]
FILTERS = [
    StatsFilter(start=date(2026, 10, 1), end=date(2026, 12, 3)),
    StatsFilter(start=date(2026, 11, 1), end=date(2026, 11, 30)),
    StatsFilter(start=date(2026, 10, 1), end=date(2026, 12, 3), category="fraud"),
    StatsFilter(start=date(2026, 10, 1), end=date(2026, 12, 3), territory="04.441"),
    StatsFilter(start=date(2026, 10, 1), end=date(2026, 12, 3), territory="region:04"),
]
RULES = load_rules()


@pytest.fixture(params=["sqlite", "postgres"])
def world(request, tmp_path, monkeypatch) -> Iterator[TriageWorld]:
    monkeypatch.setattr(clock, "source", lambda: NOW)
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    yield from make_world(tmp_path, url)


def _recount_matches(world: TriageWorld) -> None:
    connection = world.session.connection()
    assert summary.stored(connection) == +summary.contributions(connection, None, None)


def _first_times_match(world: TriageWorld) -> None:
    referral = (
        select(CaseEvent.case_id, func.min(CaseEvent.at))
        .where(
            CaseEvent.action == TriageAction.STATUS_CHANGED,
            CaseEvent.details["to"].as_string() == statuses.REFERRED,
        )
        .group_by(CaseEvent.case_id)
    )
    answer = (
        select(CaseEvent.case_id, func.min(CaseEvent.at))
        .where(CaseEvent.action.in_((TriageAction.REPLY_QUEUED, TriageAction.REPORTER_NOTIFIED)))
        .group_by(CaseEvent.case_id)
    )
    expected_referral = {c: at for c, at in world.session.execute(referral)}
    expected_answer = {c: at for c, at in world.session.execute(answer)}
    for case_id, first_referral, first_answer in world.session.execute(
        select(Case.id, Case.first_referral_at, Case.first_answer_at)
    ):
        assert first_referral == expected_referral.get(case_id)
        assert first_answer == expected_answer.get(case_id)


def _figures_match(world: TriageWorld, now: datetime) -> None:
    for chosen in FILTERS:
        assert compute(world.session, chosen, now=now) == compute(
            world.session, chosen, now=now, from_summary=False
        )


def _step(world: TriageWorld, rng: random.Random, at: datetime) -> None:
    session, sup = world.session, world.supervisor
    case_ids = list(
        session.scalars(select(Case.id).where(Case.status != statuses.MERGED).order_by(Case.id))
    )
    action = rng.choice(
        ["report", "report", "status", "status", "territory", "assign", "merge", "split", "hash"]
    )
    if action == "report" or not case_ids:
        for _ in range(rng.randint(1, 3)):
            world.add_report(
                {"category": rng.choice(CATEGORIES), "urls": [rng.choice(URLS)]},
                received=at - timedelta(hours=rng.randint(0, 72)),
            )
        index_pending(session, world.store, sup)
        return
    case_id = rng.choice(case_ids)
    case = session.get(Case, case_id)
    assert case is not None
    try:
        if action == "status":
            targets = statuses.TRANSITIONS[case.status]
            if targets:
                target = rng.choice(targets)
                reason = "duplicate" if target == statuses.CLOSED else None
                change_status(session, sup, case_id, target, reason, now=at)
        elif action == "territory":
            set_territory(session, sup, case_id, rng.choice(TERRITORIES), now=at)
        elif action == "assign":
            who = rng.choice([world.analyst.officer_id, sup.officer_id, None])
            assign_case(session, sup, case_id, who, now=at)
        elif action == "merge" and len(case_ids) > 1:
            other = rng.choice([c for c in case_ids if c != case_id])
            merge_cases(session, sup, case_id, other, now=at)
        elif action == "split":
            reports = list(
                session.scalars(
                    select(ReportTriage.report_id).where(ReportTriage.case_id == case_id)
                )
            )
            if len(reports) > 1:
                split_case(session, sup, case_id, reports[:1], now=at)
        elif action == "hash":
            # A plain ORM change of a counted column, as apply_hash_matches makes.
            case.hash_label = "list entry"
            session.commit()
    except TriageError:
        session.rollback()


def test_the_summary_equals_a_recount_after_a_random_run(world) -> None:
    rng = random.Random(20261205)
    at = START
    for number in range(1, 61):
        at += timedelta(hours=rng.randint(1, 30))
        _step(world, rng, at)
        if number % 10 == 0:
            _recount_matches(world)
            _first_times_match(world)
    _figures_match(world, NOW)
    # Purge the closed cases (due long after): their counts leave the summary with them.
    closed = list(world.session.scalars(select(Case.id).where(Case.status == statuses.CLOSED)))
    assert closed
    later = NOW + timedelta(days=3650)
    purged = 0
    for case_id in closed:
        try:
            purge_case(
                world.session, world.supervisor, world.config.data_dir, RULES, case_id, now=later
            )
            purged += 1
        except PurgeRefused:  # a category the rules hold
            pass
    assert purged
    _recount_matches(world)
    _figures_match(world, NOW)


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_an_upgrade_through_the_summary_migration_counts_the_cases_already_there(
    database_url: str,
) -> None:
    """A database at the revision before the summary, with a referred case: the upgrade
    fills its first referral time and counts it; a database made later is not recounted."""
    engine = make_engine(database_url)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "7c984072bea0")
        at, received = "2026-11-02 10:00:00", "2026-11-01 09:00:00"
        connection.execute(
            text(
                "INSERT INTO cases (id, priority, category, received, sla_due_at, status,"
                " is_open, report_count, unread_count, triaged_at, created_at, updated_at)"
                " VALUES (1, 3, 'fraud', :r, :r, 'referred', false, 1, 0, :at, :r, :at)"
            ),
            {"r": received, "at": at},
        )
        connection.execute(
            text(
                "INSERT INTO case_events (case_id, at, actor, action, details)"
                " VALUES (1, :at, 'sara', 'case.status_changed', :details)"
            ),
            {"at": at, "details": '{"from": "triaged", "to": "referred"}'},
        )
    upgrade_to_head(engine)
    session = make_session_factory(engine)()
    connection = session.connection()
    counted = summary.stored(connection)
    assert counted[("all", "", "outcome", date(2026, 11, 1), "referred")] == 1
    assert counted == +summary.contributions(connection, None, None)
    assert session.get(Case, 1).first_referral_at == datetime(2026, 11, 2, 10)
    session.close()
    # At head already: a later start does not recount (a count changed by hand stays).
    with engine.begin() as connection:
        connection.execute(summary.TABLE.update().values(count=5))
    upgrade_to_head(engine)
    with engine.connect() as connection:
        assert set(summary.stored(connection).values()) == {5}
    engine.dispose()


def test_stats_rebuild_recounts_the_summary_and_first_times(world, monkeypatch, capsys) -> None:
    """``iblagh-officer stats rebuild`` after rows changed behind the application's back."""
    for category in CATEGORIES:
        world.add_report({"category": category}, received=START)
    index_pending(world.session, world.store, world.supervisor)
    case_id = world.session.scalars(select(Case.id)).first()
    change_status(world.session, world.supervisor, case_id, "triaged", now=START)
    change_status(world.session, world.supervisor, case_id, "referred", now=NOW)
    connection = world.session.connection()
    expected = summary.stored(connection)
    connection.execute(summary.TABLE.update().values(count=7))
    connection.execute(Case.__table__.update().values(first_referral_at=None))
    world.session.commit()
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(world.config.data_dir))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_DATABASE_URL", world.config.database_url)

    assert main(["stats", "rebuild"]) == 0

    assert "daily summary recounted" in capsys.readouterr().out
    world.session.expire_all()
    connection = world.session.connection()
    assert summary.stored(connection) == expected
    assert world.session.get(Case, case_id).first_referral_at == NOW
    _first_times_match(world)
