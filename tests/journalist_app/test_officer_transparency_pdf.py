"""The transparency report as PDF (issue 14, item 3): the same noisy, suppressed figures
as the HTML page, Arabic in logical order, nothing fetched."""

import subprocess
from pathlib import Path

import pytest

from journalist_app import create_app
from journalist_app.transparency.publish import publish_quarter, write_pdfs
from tests.journalist_app.test_officer_transparency import Q4, _cases
from tests.support.triage import log_in, make_world


@pytest.fixture
def world(tmp_path, officer_database_url: str):
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def quarter_cases(world) -> None:
    _cases(world, "fraud", 60, "closed", "not_illegal")
    _cases(world, "sextortion", 25, "referred")
    _cases(world, "terrorism", 3)  # a small cell: never printed as a number


def _text(pdf: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True, text=True
    ).stdout


def test_each_language_gets_a_pdf_with_the_suppressed_figures(
    world, quarter_cases, tmp_path
) -> None:
    published = publish_quarter(
        world.session, world.supervisor, create_app(world.config), world.config.data_dir, Q4
    )
    paths = write_pdfs(published, tmp_path / "public")
    assert sorted(p.name for p in paths) == [f"2026-Q4.{c}.pdf" for c in ("ar", "en", "es", "fr")]
    assert all(p.read_bytes().startswith(b"%PDF-") for p in paths)
    english = _text(tmp_path / "public" / "2026-Q4.en.pdf")
    assert "Transparency report, 2026-Q4" in english and "ε = 1.0" in english
    release = published.release
    small = [key for key, count in release.categories.items() if release.shown(count) is None]
    assert ("fewer than 10" in english) == bool(
        small or None in map(release.shown, release.outcomes.values())
    )
    for key, count in release.categories.items():
        shown = release.shown(count)
        if shown is not None:
            assert f"{shown:,}".replace(",", "\u202f") in english, key
    arabic = _text(tmp_path / "public" / "2026-Q4.ar.pdf")
    # Shaped Arabic comes back from pdftotext in logical order.
    assert "تقرير الشفافية" in arabic and "الملفات حسب الفئة" in arabic


def test_a_supervisor_downloads_the_pdf_from_the_dashboard(world, quarter_cases) -> None:
    app = create_app(world.config)
    publish_quarter(world.session, world.supervisor, app, world.config.data_dir, Q4)
    client = app.test_client()
    log_in(app, client, world.supervisor)
    page = client.get("/stats/transparency/2026-Q4.fr.html").get_data(as_text=True)
    assert 'href="2026-Q4.fr.pdf"' in page and "Version imprimable (PDF)" in page
    answer = client.get("/stats/transparency/2026-Q4.fr.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-")
    assert client.get("/stats/transparency/2026-Q3.fr.pdf").status_code == 404
    log_in(app, client, world.analyst)
    assert client.get("/stats/transparency/2026-Q4.fr.pdf").status_code in (302, 403)
