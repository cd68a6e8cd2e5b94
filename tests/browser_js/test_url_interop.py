"""Every address the browser puts in standard form is what the host would write.

source_app/static/js/urls.js handles the common pasted forms itself and leaves the rest
as typed; for each input it claims, source_app/urls.py's normalise_url must agree.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from source_app.urls import normalise_url

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

PASTED = [
    "t.me/channel/42.", "https://EXAMPLE.org/a", "www.x.com/b", "https://t.me/Murl4K2x/42",
    "HTTPS://Video.Example/watch?v=1&t=2#top", "(https://example.com/a_(b))",
    "https://en.wikipedia.org/wiki/Foo_(bar)", "example.com,", "«https://ex.ma/x»",
    "https://ex.com/path?q=1#f", "youtube.com/watch?v=abc!", "//cdn.example.net/x",
    "\u200bhttps://ex.ma/y\u200e", "https://ex.ma/a%20b", "hxxps://evil[.]example",
    "https://ex.com/مرحبا", "https://مثال.المغرب/x", "ftp://ex.com/x", "https://1.2.3.4/",
    "http://ex.com:8080/x", "https://user@ex.com/", "abc", "https://ex.onion/",
    "tiktok.com/@user/video/123", "https://x.com/a/b/c/",
]  # fmt: skip


def test_the_browser_claims_only_what_the_host_would_write() -> None:
    finished = subprocess.run(
        ["node", str(ROOT / "tests" / "browser_js" / "url_cli.mjs")],
        input=json.dumps(PASTED),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    browser = json.loads(finished.stdout)
    claimed = 0
    for pasted, normalised in zip(PASTED, browser, strict=True):
        if normalised is not None:
            claimed += 1
            assert normalised == normalise_url(pasted), pasted
    # The common forms are the browser's own, not left to the unit's eyes.
    assert claimed >= 14
    assert browser[0] == "https://t.me/channel/42"
