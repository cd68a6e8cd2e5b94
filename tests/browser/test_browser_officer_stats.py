"""The dashboard in Chromium, in Arabic (right to left) and French: charts drawn by the
server load from this host only, the tables read in the page's direction; screenshots."""

import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Browser

from journalist_app import SESSION_COOKIE_NAME, clock, create_app
from journalist_app.models import ReportTriage
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import assign_case, change_status, set_territory
from tests.browser.tab import SCREENSHOTS
from tests.support.triage import TriageWorld, log_in, make_world

NOW = datetime(2026, 12, 4, 12)
CATEGORIES = ["fraud"] * 6 + ["sextortion"] * 3 + ["terrorism", "hate", "other", "child_abuse"]
TERRITORIES = ["04.441", "06.141", "01.511", None]


def _demo_cases(world: TriageWorld) -> None:
    rng = random.Random(14)
    for n in range(24):
        received = NOW - timedelta(days=rng.randint(0, 20), hours=rng.randint(1, 12))
        world.add_report(
            {"category": rng.choice(CATEGORIES), "urls": [f"https://site{n}.example/"]},
            received=received.replace(minute=0, second=0),
        )
    index_pending(world.session, world.store, world.supervisor)
    sup = world.supervisor
    for n, triage in enumerate(world.session.query(ReportTriage).all()):
        case_id = triage.case_id
        at = NOW - timedelta(days=1)
        if n % 4 == 0:
            continue
        change_status(world.session, sup, case_id, "triaged", now=at)
        if (code := TERRITORIES[n % 4]) is not None:
            set_territory(world.session, sup, case_id, code, now=at)
        if n % 3 == 0:
            change_status(world.session, sup, case_id, "referred", now=at)
        elif n % 5 == 0:
            change_status(world.session, sup, case_id, "closed", "duplicate", now=at)
        else:
            assign_case(world.session, sup, case_id, world.analyst.officer_id, now=at)


@pytest.fixture
def stats_site(tmp_path, monkeypatch) -> Iterator[tuple[object, str, TriageWorld]]:
    monkeypatch.setattr(clock, "source", lambda: NOW)
    for world in make_world(tmp_path):
        _demo_cases(world)
        app = create_app(world.config)
        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, f"http://127.0.0.1:{server.server_port}", world
        finally:
            server.shutdown()
            thread.join(5)


@pytest.mark.browser
@pytest.mark.parametrize("language", ["ar", "fr"])
def test_the_dashboard_reads_in_its_direction_with_local_charts(
    browser: Browser, stats_site, language: str
) -> None:
    app, origin, world = stats_site
    client = app.test_client()
    log_in(app, client, world.supervisor)
    cookie = client.get_cookie(SESSION_COOKIE_NAME)
    assert cookie is not None
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.add_cookies([{"name": SESSION_COOKIE_NAME, "value": cookie.value, "url": origin}])
    page = context.new_page()
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url))
    try:
        page.goto(f"{origin}/stats?lang={language}&start=2026-11-14&end=2026-12-04")
        page.wait_for_load_state("networkidle")

        assert page.evaluate("document.documentElement.dir") == (
            "rtl" if language == "ar" else "ltr"
        )
        assert all(url.startswith(origin) for url in loaded), loaded
        charts = page.locator("img.stats-chart")
        assert charts.count() >= 8
        assert page.evaluate(
            "[...document.querySelectorAll('img.stats-chart')].every(i => i.naturalWidth > 0)"
        )
        row = page.locator("#figure-by_category tbody tr").first
        label = row.locator("th").bounding_box()
        value = row.locator("td").bounding_box()
        assert label is not None and value is not None
        # The label comes first in reading order: on the right in Arabic, the left in French.
        assert (label["x"] > value["x"]) == (language == "ar")
        page.screenshot(path=str(SCREENSHOTS / f"officer-stats-{language}.png"), full_page=False)
        page.locator("#figure-by_category").screenshot(
            path=str(SCREENSHOTS / f"officer-stats-by-category-{language}.png")
        )
    finally:
        context.close()
