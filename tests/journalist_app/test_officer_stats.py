"""The dashboard: figures exact on a small fixture, charts as SVG, CSV, supervisors only."""

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from journalist_app import clock, create_app
from journalist_app.models import ReportTriage
from journalist_app.stats.figures import StatsFilter, compute
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import assign_case, change_status, set_territory
from tests.support.triage import TriageWorld, log_in, make_world

NOW = datetime(2026, 12, 3, 12, 0)
DAY1, DAY2 = datetime(2026, 12, 1, 9), datetime(2026, 12, 2, 14)
RABAT = "04.441"  # Préfecture de Rabat (journalist_app/data/territories.csv)
PERIOD = StatsFilter(start=date(2026, 12, 1), end=date(2026, 12, 3))


@pytest.fixture(params=["sqlite", "postgres"])
def world(request, tmp_path, monkeypatch) -> Iterator[TriageWorld]:
    monkeypatch.setattr(clock, "source", lambda: NOW)
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    yield from make_world(tmp_path, url)


def _case(world: TriageWorld, report_id: str) -> int:
    triage = world.session.get(ReportTriage, report_id)
    assert triage is not None
    return triage.case_id


@pytest.fixture
def fixture_cases(world) -> dict[str, int]:
    """Four cases over two days: fraud ×2 (one referred in Rabat), terrorism, other (closed)."""
    fraud1 = world.add_report({"category": "fraud", "urls": ["https://a.example/1"]}, received=DAY1)
    # Same address: joins fraud1's case (two reports, one case).
    world.add_report({"category": "fraud", "urls": ["https://a.example/1"]}, received=DAY2)
    fraud2 = world.add_report({"category": "fraud", "urls": ["https://b.example/"]}, received=DAY2)
    terror = world.add_report({"category": "terrorism"}, received=DAY1)
    other = world.add_report({"category": "other"}, received=DAY2)
    index_pending(world.session, world.store, world.supervisor)
    cases = {
        "fraud1": _case(world, fraud1),
        "fraud2": _case(world, fraud2),
        "terror": _case(world, terror),
        "other": _case(world, other),
    }
    sup = world.supervisor
    # fraud1: triaged 10 h after receipt (72 h deadline: met), referred 30 h after.
    change_status(world.session, sup, cases["fraud1"], "triaged", now=DAY1 + timedelta(hours=10))
    set_territory(world.session, sup, cases["fraud1"], RABAT, now=DAY1 + timedelta(hours=11))
    change_status(world.session, sup, cases["fraud1"], "referred", now=DAY1 + timedelta(hours=30))
    # terror: triaged 5 h after receipt (2 h deadline: missed), assigned to the analyst.
    change_status(world.session, sup, cases["terror"], "triaged", now=DAY1 + timedelta(hours=5))
    assign_case(world.session, sup, cases["terror"], world.analyst.officer_id, now=DAY1)
    # other: closed as a duplicate 1 h after receipt.
    change_status(
        world.session, sup, cases["other"], "closed", "duplicate", now=DAY2 + timedelta(hours=1)
    )
    # fraud2 stays new; received DAY2 14:00, due 72 h later: still running at NOW.
    return cases


def test_the_figures_are_exact_on_the_fixture(world, fixture_cases) -> None:
    figures = compute(world.session, PERIOD)

    assert figures.reports_by_day == {date(2026, 12, 1): 2, date(2026, 12, 2): 3}
    assert figures.cases_by_day == {date(2026, 12, 1): 2, date(2026, 12, 2): 2}
    assert figures.reports_by_week() == {"2026-W49": 5}
    assert figures.by_category == {"fraud": 2, "other": 1, "terrorism": 1}
    assert figures.by_territory == {"": 3, RABAT: 1}
    assert figures.by_kind == {"report": 5}
    assert figures.outcomes == {"closed:duplicate": 1, "new": 1, "referred": 1, "triaged": 1}
    assert (figures.deadlines.met, figures.deadlines.missed, figures.deadlines.running) == (
        2,
        1,
        1,
    )
    assert figures.to_triage.count == 3
    assert figures.to_triage.median_hours == 5.0
    assert figures.to_triage.p90_hours == 10.0
    assert (figures.to_referral.count, figures.to_referral.median_hours) == (1, 30.0)
    # Every status change the reporter sees queues a notice: triage, referral, closure.
    assert figures.to_acknowledgement.count == 3
    assert figures.open_per_officer == {"": 1, "omar": 1}


def test_filters_narrow_every_figure(world, fixture_cases) -> None:
    fraud = compute(world.session, StatsFilter(PERIOD.start, PERIOD.end, category="fraud"))
    assert fraud.by_category == {"fraud": 2}
    assert sum(fraud.reports_by_day.values()) == 3
    rabat = compute(world.session, StatsFilter(PERIOD.start, PERIOD.end, territory=RABAT))
    assert rabat.cases_by_day == {date(2026, 12, 1): 1}
    region = compute(world.session, StatsFilter(PERIOD.start, PERIOD.end, territory="region:04"))
    assert region.total_cases == 1
    first_day = compute(world.session, StatsFilter(date(2026, 12, 1), date(2026, 12, 1)))
    assert first_day.total_cases == 2 and first_day.total_reports == 2


@pytest.fixture
def app(world) -> Flask:
    return create_app(world.config)


def test_the_dashboard_shows_tables_charts_and_sources(app, world, fixture_cases) -> None:
    client = app.test_client()
    log_in(app, client, world.supervisor)
    query = "start=2026-12-01&end=2026-12-03"

    html = client.get(f"/stats?lang=en&{query}").get_data(as_text=True)

    assert '<tr data-key="fraud"><th scope="row">Fraud, scams and extortion</th><td>2</td>' in html
    assert '<tr data-key="missed"><th scope="row">Missed</th><td>1</td>' in html
    assert "cases.category" in html and "no report is decrypted" in html
    assert "/stats/chart/by_category.svg?start=2026-12-01&amp;end=2026-12-03" in html
    svg = client.get(f"/stats/chart/by_category.svg?{query}")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.get_data().startswith(b"<?xml") and b"<script" not in svg.get_data()
    assert client.get(f"/stats/chart/delays.svg?{query}").status_code == 404
    from journalist_app.views.stats import CHART_PARTS

    for name in CHART_PARTS:
        assert client.get(f"/stats/chart/{name}.svg?{query}").status_code == 200, name
    assert client.get("/stats?start=2026-12-05&end=2026-12-01").status_code == 400


def test_the_csv_has_every_figure_and_its_fields(app, world, fixture_cases) -> None:
    client = app.test_client()
    log_in(app, client, world.supervisor)

    answer = client.get("/stats/figures.csv?lang=fr&start=2026-12-01&end=2026-12-03")

    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    values = {(row["figure"], row["key"]): row["value"] for row in rows}
    assert values[("by_category", "fraud")] == "2"
    assert values[("deadlines", "met")] == "2"
    assert values[("delays", "referral.median")] == "30.0"
    assert all(row["clear_fields"] for row in rows)


def test_arabic_labels_are_shaped_in_the_chart(app, world, fixture_cases) -> None:
    client = app.test_client()
    log_in(app, client, world.supervisor)
    html = client.get("/stats?lang=ar&start=2026-12-01&end=2026-12-03").get_data(as_text=True)
    assert 'dir="rtl"' in html
    svg = client.get("/stats/chart/by_category.svg?start=2026-12-01&end=2026-12-03")
    # Glyphs are drawn as paths (matplotlib shapes and orders the Arabic itself).
    assert svg.status_code == 200 and b"<path" in svg.get_data()


def test_only_supervisors_see_the_figures(app, world) -> None:
    for username in ("omar", "tariq"):
        client = app.test_client()
        log_in(app, client, world.keyrings[username])
        assert client.get("/stats").status_code == 403
        assert client.get("/stats/figures.csv").status_code == 403


def test_nothing_is_decrypted_to_count(world, fixture_cases) -> None:
    """The dashboard needs no keyring and writes no audit entry (no envelope opened)."""
    from journalist_app.models import AuditEntry

    before = world.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    compute(world.session, PERIOD)
    after = world.session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    assert before == after
