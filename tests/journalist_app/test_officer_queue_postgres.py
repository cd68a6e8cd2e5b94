"""The queue's keyset paging on PostgreSQL: each filter reads its own index in queue order.

PostgreSQL chooses plans from statistics, so the table holds enough cases (20,000) for
the choice to mean something; the plan must use the filter's index and never sort.
"""

import json
import os
import random
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, event, insert, text
from sqlalchemy.orm import Session

from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case
from journalist_app.triage import statuses
from journalist_app.triage.categories import sla_for
from journalist_app.triage.queue import Cursor, QueueFilters, queue_page
from tests.conftest import POSTGRES_ENV

NOW = datetime(2026, 11, 29, 12)
READER = UnlockedKeyring(username="reader", role="analyst", officer_id=1)
CASES = 20_000
CATEGORIES = ["terrorism", "fraud", "hate", "threat", "child_abuse", "other"]


@pytest.fixture(scope="module")
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    create_schema(engine)
    rng = random.Random(13)
    base = datetime(2026, 1, 1)
    rows: list[dict[str, Any]] = []
    for number in range(CASES):
        priority = rng.randint(1, 4)
        received = base + timedelta(minutes=rng.randrange(500_000))
        status = rng.choice([*statuses.STATUSES])
        province = rng.randrange(75)
        rows.append(
            {
                "priority": priority,
                "received": received,
                "sla_due_at": received + sla_for(priority),
                "status": status,
                "is_open": status in statuses.OPEN_STATUSES,
                "report_count": 1,
                "category": CATEGORIES[number % len(CATEGORIES)],
                "territory_code": f"{province // 6:02d}.{province:03d}",
                "region_code": f"{province // 6:02d}",
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(Case), rows)
        connection.execute(text("ANALYZE cases"))
    with make_session_factory(engine)() as opened:
        yield opened
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """One schema for the module: filling 20,000 cases once is enough."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any failure here means "not reachable"
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is not reachable: {type(exc).__name__}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _plan(session: Session, filters: QueueFilters, after: Cursor | None) -> dict[str, Any]:
    statements: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM cases" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        page = queue_page(session, READER, filters, after=after, limit=50, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert page.rows, "the page is empty: the query proves nothing"
    [(statement, parameters)] = statements
    assert "OFFSET" not in statement.upper()
    explained = session.connection().exec_driver_sql(
        "EXPLAIN (FORMAT JSON) " + statement, parameters
    )
    plan: dict[str, Any] = explained.scalar()[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        (QueueFilters(), "ix_cases_open_queue"),
        (QueueFilters(status="closed"), "ix_cases_status_queue"),
        (QueueFilters(status="all", category="fraud"), "ix_cases_category_queue"),
        (QueueFilters(status="all", territory="01.007"), "ix_cases_territory_queue"),
        (QueueFilters(status="all", territory="region:01"), "ix_cases_region_queue"),
    ],
)
@pytest.mark.parametrize("cursor", [None, Cursor(2, datetime(2026, 6, 1), 10_000)])
def test_a_queue_page_is_an_index_scan_in_queue_order_on_postgresql(
    session: Session, filters: QueueFilters, index: str, cursor: Cursor | None
) -> None:
    plan = _plan(session, filters, cursor)
    nodes = list(_nodes(plan))
    scans = {node.get("Index Name") for node in nodes if "Index Name" in node}
    assert index in scans, json.dumps(plan, indent=1)
    assert not [n for n in nodes if n["Node Type"] in ("Sort", "Incremental Sort")], json.dumps(
        plan, indent=1
    )
    assert not [
        n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "cases"
    ]
