"""The officer's case page in Chromium: media veiled by default, sharp only by a logged
keyboard or click action; screenshots of a case thread and of the diagnostics panel."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from PIL import Image
from playwright.sync_api import Browser, Page
from sqlalchemy import select
from werkzeug.serving import make_server

from journalist_app import SESSION_COOKIE_NAME, create_app
from journalist_app.models import AuditEntry, ReportTriage
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.notes import add_note
from journalist_app.triage.workflow import send_reply
from tests.browser.tab import SCREENSHOTS
from tests.journalist_app.test_officer_diagnostics import jpeg, scene
from tests.support.triage import TriageWorld, log_in, make_world


@dataclass
class OfficerSite:
    world: TriageWorld
    app: Flask
    origin: str


@pytest.fixture
def officer_site(tmp_path) -> Iterator[OfficerSite]:
    for world in make_world(tmp_path):
        app = create_app(world.config)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield OfficerSite(world, app, f"http://127.0.0.1:{server.server_port}")
        finally:
            server.shutdown()
            thread.join(5)


def _officer_page(browser: Browser, site: OfficerSite, username: str) -> Page:
    client = site.app.test_client()
    log_in(site.app, client, site.world.keyrings[username])
    cookie = client.get_cookie(SESSION_COOKIE_NAME)
    assert cookie is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": SESSION_COOKIE_NAME, "value": cookie.value, "url": site.origin}])
    page = context.new_page()
    page.on("request", lambda r: _only_local(r.url, site.origin))
    return page


def _only_local(url: str, origin: str) -> None:
    assert url.startswith((origin, "data:")), f"the officer page loaded {url}"


def _a_case(site: OfficerSite) -> tuple[int, str]:
    world = site.world
    exif = Image.Exif()
    exif[271], exif[272] = "Samsung", "SM-A515F"
    exif[34853] = {1: "N", 2: (34.0, 1.0, 30.0), 3: "W", 4: (6.0, 50.0, 10.0)}
    start = datetime(2026, 11, 28, 9)
    report = world.add_report(
        {
            "category": "incitement",
            "language": "fr",
            "platform": "TikTok",
            "account": "@bad.actor",
            "urls": ["hxxps://www.tiktok[.]com/@bad.actor/video/7311?utm_source=share",
                     "https://аpple.com/login", "https://vm.tiktok.com/ZMabc123/"],
            "description": "Cette vidéo appelle à attaquer un quartier. Capture jointe.",
        },
        received=start,
        identity="Nadia Benali",
        reporter_id="r" * 32,
        attachments=[("capture.jpg", jpeg(scene(41), exif=exif))],
    )  # fmt: skip
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    case_id = world.session.get(ReportTriage, report).case_id
    send_reply(
        world.session,
        world.analyst,
        case_id,
        report,
        "more_information",
        "Merci pour votre signalement. Pouvez-vous préciser la date de publication ?",
        now=(start + timedelta(hours=3)).replace(tzinfo=UTC),
    )
    world.add_report(
        {"category": "followup", "language": "fr", "description": "Publiée le 27 novembre."},
        received=start + timedelta(hours=6),
        reporter_id="r" * 32,
        kind="followup",
    )
    index_pending(world.session, world.store, world.supervisor)
    add_note(
        world.session,
        world.analyst,
        case_id,
        "Compte actif depuis 2024 ; même compte que le dossier de septembre.",
        now=start + timedelta(hours=7),
    )
    return case_id, report


def test_media_are_veiled_until_a_logged_keyboard_reveal(browser, officer_site) -> None:
    case_id, _report = _a_case(officer_site)
    page = _officer_page(browser, officer_site, "omar")
    page.goto(f"{officer_site.origin}/cases/{case_id}?lang=en")
    picture = page.locator("img.thumbnail")
    picture.wait_for()
    assert "veiled" in (picture.get_attribute("class") or "")

    picture.hover()
    style = picture.evaluate("element => getComputedStyle(element).filter")
    assert "blur" in style and "grayscale" in style, "a hover never reveals"
    assert picture.evaluate("element => element.complete && element.naturalWidth > 0")
    page.locator("ol.thread").screenshot(path=str(SCREENSHOTS / "officer-case-thread.png"))
    page.screenshot(path=str(SCREENSHOTS / "officer-case-page.png"), full_page=True)

    button = page.get_by_role("button", name="Show this picture sharp (logged)")
    button.focus()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    sharp = page.locator("img.thumbnail")
    sharp.wait_for()
    assert "sharp" in (sharp.get_attribute("class") or "")
    assert sharp.evaluate("element => getComputedStyle(element).filter") == "none"
    assert "Media you revealed today: 1" in page.content()
    world = officer_site.world
    world.session.expire_all()
    reveals = world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "media.revealed")
    ).all()
    assert [(r.actor, r.target) for r in reveals] == [("omar", f"case:{case_id}")]


def test_the_diagnostics_panel(browser, officer_site) -> None:
    case_id, report = _a_case(officer_site)
    page = _officer_page(browser, officer_site, "omar")
    page.goto(f"{officer_site.origin}/cases/{case_id}?lang=en")
    for summary in page.locator("details.url-diagnostics summary").all():
        summary.click()
    page.locator("ul.addresses").first.screenshot(
        path=str(SCREENSHOTS / "officer-url-diagnostics.png")
    )
    assert "mixes letters of several scripts" in page.content()
    page.goto(
        f"{officer_site.origin}/cases/{case_id}/reports/{report}/files/attachment-1/diagnostics?lang=en"
    )
    assert "34.025000, -6.836111" in page.content() and "SM-A515F" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "officer-diagnostics.png"), full_page=True)
    # One search finds the account's case, whatever form the officer types.
    page.goto(f"{officer_site.origin}/search?lang=en")
    page.get_by_label("Address (any form)", exact=False).fill("@Bad.Actor")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert f'value="{case_id}"' in page.content() and "same account" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "officer-search.png"), full_page=True)
