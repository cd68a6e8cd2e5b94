"""The unit publishes its transparency pages through the signed sync API (issue 14, item 3):
the public host writes each one whole into DATA_DIR/transparency and serves it, refuses
a page misnamed, scripted or too large, and a replayed request changes nothing."""

from pathlib import Path

import pytest
from flask.testing import FlaskClient

from crypto.keys import generate_signing_key
from crypto.sync_api import MAX_TRANSPARENCY_PAGE_BYTES
from crypto.sync_auth import sign_request
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient

PAGE = (
    '<!doctype html>\n<html lang="fr" dir="ltr"><head><meta charset="utf-8">'
    "<title>Rapport de transparence, 2026-Q3</title></head><body><main>"
    '<nav aria-label="Langue"><a href="2026-Q3.ar.html" lang="ar">العربية</a></nav>'
    "<h1>Rapport de transparence, 2026-Q3</h1><table><caption>Dossiers par catégorie</caption>"
    '<tr data-key="fraud"><th scope="row">Fraude</th><td>63</td></tr></table></main></body></html>'
)
PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PATH = "/sync/v1/transparency/2026-Q3.fr.html"


@pytest.fixture
def officer(source_data_dir: Path, database_url: str, unit_keys: UnitKeys) -> SignedSyncClient:
    config = SourceConfig.from_env(source_environ(source_data_dir, database_url))
    return SignedSyncClient(create_sync_app(config).test_client(), unit_keys.sync)


def _published(source_data_dir: Path) -> list[str]:
    folder = source_data_dir / "transparency"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_page_put_by_the_unit_is_served_as_is_with_the_strict_policy(
    officer: SignedSyncClient, client: FlaskClient, source_data_dir: Path
) -> None:
    first = officer.request("PUT", PATH, PAGE.encode())
    assert (first.status_code, first.get_json()) == (201, {"name": "2026-Q3.fr.html"})
    assert officer.request("PUT", PATH, PAGE.encode()).status_code == 200
    assert officer.request("PUT", PATH.replace("fr.html", "fr.pdf"), PDF).status_code == 201

    served = client.get("/transparency/2026-Q3.fr.html")
    assert served.status_code == 200 and served.mimetype == "text/html"
    assert served.get_data(as_text=True) == PAGE
    policy = served.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert client.get("/transparency/2026-Q3.fr.pdf").data == PDF
    # Written whole: nothing but the two pages in the folder, no temporary file left.
    assert _published(source_data_dir) == ["2026-Q3.fr.html", "2026-Q3.fr.pdf"]
    # Re-rendered by the unit: replaced.
    fixed = PAGE.replace("63", "64")
    assert officer.request("PUT", PATH, fixed.encode()).status_code == 200
    assert client.get("/transparency/2026-Q3.fr.html").get_data(as_text=True) == fixed


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("2026-Q5.fr.html", PAGE.encode(), 400, "bad_name"),
        ("2026-Q3.de.html", PAGE.encode(), 400, "bad_name"),
        ("recipient-set.json", b"{}", 400, "bad_name"),
        (
            "2026-Q3.fr.html",
            PAGE.replace("<h1>", "<script>alert(1)</script><h1>").encode(),
            400,
            "scripted",
        ),
        ("2026-Q3.fr.html", PAGE.replace("<h1>", '<h1 onclick="x()">').encode(), 400, "scripted"),
        (
            "2026-Q3.fr.pdf",
            PDF.replace(b"/Catalog", b"/Catalog /OpenAction << /S /JavaScript >>"),
            400,
            "scripted",
        ),
        (
            "2026-Q3.fr.html",
            PAGE.replace("<h1>", '<img src="https://x.example/p">').encode(),
            400,
            "not_static",
        ),
        ("2026-Q3.fr.pdf", PAGE.encode(), 400, "not_a_page"),
        ("2026-Q3.fr.html", b"x" * (MAX_TRANSPARENCY_PAGE_BYTES + 1), 413, "too_large"),
    ],
)
def test_a_misnamed_scripted_or_oversized_page_is_refused_and_nothing_written(
    officer: SignedSyncClient,
    source_data_dir: Path,
    name: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    answer = officer.request("PUT", f"/sync/v1/transparency/{name}", body)
    assert (answer.status_code, answer.get_json()) == (status, {"error": code})
    assert _published(source_data_dir) == []


def test_only_the_units_sync_key_publishes_and_a_replay_changes_nothing(
    officer: SignedSyncClient, source_data_dir: Path
) -> None:
    unsigned = officer.client.put(PATH, data=PAGE.encode())
    assert (unsigned.status_code, unsigned.get_json()) == (401, {"error": "unsigned"})
    stranger = SignedSyncClient(officer.client, generate_signing_key())
    assert stranger.request("PUT", PATH, PAGE.encode()).status_code == 401
    assert _published(source_data_dir) == []

    old = PAGE.replace("63", "12")
    headers = sign_request(officer.key, "PUT", PATH, old.encode())
    assert officer.client.put(PATH, data=old.encode(), headers=headers).status_code == 201
    assert officer.request("PUT", PATH, PAGE.encode()).status_code == 200
    replayed = officer.client.put(PATH, data=old.encode(), headers=headers)
    assert (replayed.status_code, replayed.get_json()) == (401, {"error": "replayed"})
    assert (source_data_dir / "transparency" / "2026-Q3.fr.html").read_text("utf-8") == PAGE
    # The signature covers the body: another page under the same headers is refused too.
    swapped = officer.client.put(PATH, data=b"<!doctype html><p>x</p>", headers=headers)
    assert swapped.status_code == 401
    assert _published(source_data_dir) == ["2026-Q3.fr.html"]
