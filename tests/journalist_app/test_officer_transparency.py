"""The public transparency report: noise applied, small cells suppressed, released once."""

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from journalist_app import create_app
from journalist_app.models import AuditEntry, Case
from journalist_app.transparency.publish import RELEASED, publish_quarter, write_pages
from journalist_app.transparency.release import (
    Quarter,
    QuarterError,
    noisy,
    release,
    true_counts,
)
from tests.support.triage import TriageWorld, make_world

Q4 = Quarter.parse("2026-Q4")


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


def _cases(world: TriageWorld, category: str, count: int, status: str = "new", reason=None):
    for n in range(count):
        received = datetime(2026, 10, 1) + timedelta(hours=n)
        world.session.add(
            Case(
                priority=3,
                category=category,
                received=received,
                sla_due_at=received,
                status=status,
                is_open=status == "new",
                close_reason=reason,
            )
        )
    world.session.commit()


@pytest.fixture
def quarter_cases(world) -> None:
    _cases(world, "fraud", 60, "closed", "not_illegal")
    _cases(world, "sextortion", 25, "referred")
    _cases(world, "terrorism", 3)  # a small cell: must never be printed as a number
    _cases(world, "fraud", 1)
    # Outside the quarter: not counted.
    world.session.add(
        Case(priority=3, category="fraud", received=datetime(2026, 9, 30, 23), sla_due_at=Q4.start)
    )
    world.session.commit()


def test_true_counts_are_by_category_and_outcome(world, quarter_cases) -> None:
    categories, outcomes = true_counts(world.session, Q4)
    assert (categories["fraud"], categories["sextortion"], categories["terrorism"]) == (61, 25, 3)
    assert outcomes["closed:not_illegal"] == 60 and outcomes["referred"] == 25
    assert outcomes["new"] == 4


def test_noise_is_applied_and_the_release_is_kept(world, quarter_cases) -> None:
    exact, _ = true_counts(world.session, Q4)
    made, first = release(world.session, world.config.data_dir, Q4)
    again, second = release(world.session, world.config.data_dir, Q4)
    assert first and not second and again == made
    assert made.categories != exact, "no noise on any of the category counts"
    draws = {tuple(noisy({"a": 100, "b": 100}, 1.0).values()) for _ in range(20)}
    assert len(draws) > 1


def test_no_count_under_the_threshold_appears(world, quarter_cases, tmp_path: Path) -> None:
    app = create_app(world.config)
    published = publish_quarter(
        world.session, world.supervisor, app, world.config.data_dir, Q4, threshold=10
    )
    paths = write_pages(published, tmp_path / "public")
    assert sorted(p.name for p in paths) == [f"2026-Q4.{c}.html" for c in ("ar", "en", "es", "fr")]
    english = published.pages["en"]
    for cell in re.findall(r"<td>([^<]*)</td>", english):
        if "%" in cell or cell == "—":
            continue
        assert cell == "fewer than 10" or int(cell.replace("\u202f", "")) >= 10, cell
    terrorism = re.search(r'<tr data-key="terrorism">.*?</tr>', english, re.S)
    assert terrorism is not None
    shown = published.release.shown(published.release.categories["terrorism"])
    assert (shown is None) == ("fewer than 10" in terrorism.group(0))
    assert "ε = 1.0" in english
    assert 'dir="rtl"' in published.pages["ar"] and 'lang="fr"' in published.pages["fr"]
    assert "<script" not in english
    actions = world.session.scalars(select(AuditEntry.action)).all()
    assert actions.count(RELEASED) == 1


def test_only_supervisors_release(world, quarter_cases) -> None:
    from journalist_app.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        publish_quarter(
            world.session, world.analyst, create_app(world.config), world.config.data_dir, Q4
        )


def test_quarters_are_parsed_strictly() -> None:
    assert (Q4.start, Q4.end) == (datetime(2026, 10, 1), datetime(2027, 1, 1))
    assert Quarter.parse("2027-Q1").end == datetime(2027, 4, 1)
    for bad in ("2026Q4", "2026-Q5", "Q4", "0000-Q1", "9999-Q4"):
        with pytest.raises(QuarterError):
            Quarter.parse(bad)


def test_a_supervisor_releases_it_from_the_dashboard(world, quarter_cases, monkeypatch) -> None:
    from journalist_app import clock
    from tests.support.triage import log_in

    monkeypatch.setattr(clock, "source", lambda: datetime(2027, 1, 5, 9))
    app = create_app(world.config)
    client = app.test_client()
    log_in(app, client, world.supervisor)
    page = client.get("/stats?lang=fr").get_data(as_text=True)
    assert '<option value="2026-Q4">' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None

    answer = client.post(
        "/stats/transparency", data={"csrf_token": token.group(1), "quarter": "2026-Q4"}
    )

    assert answer.status_code == 302 and answer.location.endswith(
        "/stats/transparency/2026-Q4.fr.html"
    )
    html = client.get("/stats/transparency/2026-Q4.ar.html").get_data(as_text=True)
    assert 'dir="rtl"' in html and "ε = 1.0" in html
    assert client.get("/stats/transparency/2026-Q3.fr.html").status_code == 404
    # A quarter not over yet (2027-Q1), or at the calendar's end, is not released.
    for quarter in ("2027-Q1", "0000-Q1", "9999-Q4"):
        refused = client.post(
            "/stats/transparency", data={"csrf_token": token.group(1), "quarter": quarter}
        )
        assert refused.status_code == 400, quarter
    assert client.get("/stats/transparency/2027-Q1.fr.html").status_code == 404
