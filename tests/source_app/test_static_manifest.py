"""/static/manifest.json: the SHA-384 of every static file, and what the report page loads.

An operator or a reporter compares the manifest with a clean checkout
(``iblagh-source static-manifest``); the report page's scripts carry the same hashes
(SRI, and the import map's ``integrity``), and its CSP allows exactly that import map.
"""

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

from flask.testing import FlaskClient

STATIC = Path(__file__).parents[2] / "source_app" / "static"


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def test_the_manifest_lists_every_static_file_with_its_sha384(client: FlaskClient) -> None:
    manifest = client.get("/static/manifest.json").get_json()
    files = sorted(p for p in STATIC.rglob("*") if p.is_file())
    assert sorted(manifest) == sorted(f"/static/{p.relative_to(STATIC).as_posix()}" for p in files)
    for path in files:
        url = f"/static/{path.relative_to(STATIC).as_posix()}"
        assert manifest[url] == _sri(path.read_bytes())
        assert _sri(client.get(url).data) == manifest[url]


def test_the_cli_prints_the_same_manifest(client: FlaskClient) -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "source_app.cli", "static-manifest"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(printed) == client.get("/static/manifest.json").get_json()


def test_the_report_page_loads_only_hashed_scripts_under_a_policy_naming_its_import_map(
    client: FlaskClient,
) -> None:
    response = client.get("/report?lang=en")
    page = response.get_data(as_text=True)
    manifest = client.get("/static/manifest.json").get_json()
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', page, flags=re.S)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' 'sha256-{digest}' 'wasm-unsafe-eval'" in policy
    mapping = json.loads(import_map)
    for url in mapping["imports"].values():
        assert mapping["integrity"][url] == manifest[url]
    for url in ("/static/js/envelope.js", "/static/js/envelope_writer.js", "/static/js/receipt.js"):
        assert mapping["integrity"][url] == manifest[url]
    (integrity,) = re.findall(r'src="/static/js/report_form.js" integrity="([^"]+)"', page)
    assert integrity == manifest["/static/js/report_form.js"]
    # Any other page (but the status page): no script, and a policy without script-src.
    home = client.get("/?lang=en")
    assert "script-src" not in home.headers["Content-Security-Policy"]
    assert "<script" not in home.get_data(as_text=True)
