"""The receipt v2 and envelope v1 vectors (reader and writer) pass in Chromium, vendored libsodium.

The same modules (source_app/static/js/) and the same libsodium files the public host
serves (source_app/static/vendor/, built by `make vendor`) run in a page served from
127.0.0.1 with an import map, as the report form will load them; the argon2id timing
of the receipt derivation is printed (issue 10 asks for < 1.5 s in headless Chromium).
"""

import base64
import functools
import http.server
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from playwright.sync_api import Browser

from crypto.envelope import EnvelopeMetadata, open_bytes

ROOT = Path(__file__).parents[2]
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>vectors</title>
<script type="importmap">
{"imports": {"libsodium-wrappers-sumo": "/vendor/libsodium-wrappers.mjs",
             "libsodium-sumo": "/vendor/libsodium-sumo.mjs"}}
</script>
<script type="module" src="/runner.js"></script>
"""

pytestmark = pytest.mark.browser


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def vector_site(tmp_path: Path) -> Iterator[str]:
    vendor = ROOT / "source_app" / "static" / "vendor"
    if not (vendor / "libsodium-sumo.mjs").exists():
        pytest.fail("source_app/static/vendor is missing: run `make vendor` first")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(PAGE, encoding="utf-8")
    (site / "vendor").symlink_to(vendor)
    (site / "js").symlink_to(ROOT / "source_app" / "static" / "js")
    (site / "vectors").symlink_to(ROOT / "tests" / "vectors")
    (site / "runner.js").symlink_to(Path(__file__).parents[1] / "browser_js" / "chromium_runner.js")
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_receipt_and_envelope_vectors_pass_in_chromium(browser: Browser, vector_site: str) -> None:
    page = browser.new_page()
    try:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(vector_site)
        page.wait_for_function("window.vectorResult !== undefined", timeout=120_000)
        result = page.evaluate("window.vectorResult")
    finally:
        page.close()
    assert not errors, errors
    assert result["failures"] == []
    assert result["checked"] > 150
    timings = result["argon2Milliseconds"]
    print(
        f"argon2id (receipt v2) in Chromium: median {statistics.median(timings):.0f} ms, "
        f"max {max(timings):.0f} ms over {len(timings)} codes"
    )
    assert max(timings) < 1500
    # The writer ran too: what Chromium sealed opens in Python.
    (sealed,) = result["sealedForPython"]
    metadata, content = open_bytes(
        base64.b64decode(sealed["envelope"]), [PrivateKey(base64.b64decode(sealed["private_key"]))]
    )
    assert metadata == EnvelopeMetadata("report", "", "text/plain; charset=utf-8")
    assert content == base64.b64decode(sealed["content"])
