"""Fixtures for the browser suite: Debian's Chromium, the public app under gunicorn.

One browser for the whole session; one gunicorn serving ``source_app`` on 127.0.0.1
for this folder, on a data dir holding the unit's keys the way ``source_data_dir``
installs them (that fixture is per test; starting a server per test would double the
suite's time). The officer side is played in process through the signed sync API, to
put a reply on a reporter's status page.
"""

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from crypto.contents import ReplyContent
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.browser.tab import AXE_REPORT, SCREENSHOTS, TabFactory
from tests.conftest import UnitKeys, source_environ
from tests.support.servers import Server, gunicorn
from tests.support.sync import SignedSyncClient

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    AXE_REPORT.unlink(missing_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass(frozen=True)
class PublicSite:
    """The public app as a reporter reaches it, and its data dir."""

    server: Server
    data_dir: Path

    @property
    def origin(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def public_site(
    tmp_path_factory: pytest.TempPathFactory, unit_keys: UnitKeys
) -> Iterator[PublicSite]:
    data_dir = tmp_path_factory.mktemp("browser") / "source"
    unit_keys.install(data_dir)
    log = data_dir.parent / "public.log"
    with gunicorn("source_app:create_app()", source_environ(data_dir), log) as server:
        yield PublicSite(server, data_dir)


# Tiny limits, to reach the refusal pages in a few steps: one receipt-code attempt per
# browser session (the second is 429), a 16 KiB form field (a long description is 413).
TINY_LIMITS = {"IBLAGH_CODE_ATTEMPTS_PER_SESSION": "1", "IBLAGH_MAX_REQUEST_BYTES": "16384"}


@pytest.fixture(scope="module")
def limited_site(
    tmp_path_factory: pytest.TempPathFactory, unit_keys: UnitKeys
) -> Iterator[PublicSite]:
    """A second public app whose limits a reporter reaches at once."""
    data_dir = tmp_path_factory.mktemp("browser-limited") / "source"
    unit_keys.install(data_dir)
    log = data_dir.parent / "public.log"
    environ = {**source_environ(data_dir), **TINY_LIMITS}
    with gunicorn("source_app:create_app()", environ, log) as server:
        yield PublicSite(server, data_dir)


@pytest.fixture
def open_limited_tab(browser: Browser, limited_site: PublicSite) -> Iterator[TabFactory]:
    """``open_tab`` on the site with tiny limits."""
    factory = TabFactory(browser, limited_site.origin)
    yield factory
    factory.close()


@pytest.fixture
def open_tab(browser: Browser, public_site: PublicSite) -> Iterator[TabFactory]:
    """``open_tab(lang, width)``: a new reporter tab, scripts off, asking for ``lang``."""
    factory = TabFactory(browser, public_site.origin)
    yield factory
    factory.close()


@pytest.fixture
def officer_reply(public_site: PublicSite, unit_keys: UnitKeys) -> Callable[..., None]:
    """Send a reply to the reporter holding ``code``, as the officer host would."""
    sync_app = create_sync_app(SourceConfig.from_env(source_environ(public_site.data_dir)))
    officer = SignedSyncClient(sync_app.test_client(), unit_keys.sync)

    def reply(code: str, *, status: str | None = None, message: str | None = None) -> None:
        key = derive_reporter_secrets(ReceiptCode.parse(code)).private_key.public_key
        reporter_key = b64encode(bytes(key))
        [item] = [i for i in officer.pending() if i["reporter_public_key"] == reporter_key]
        content = ReplyContent(sent_at="2026-11-28T18:00:00Z", status=status, message=message)
        envelope = seal_bytes(
            content.to_json(),
            [key],
            EnvelopeMetadata(kind="reply", content_type="application/json"),
        )
        path = f"/sync/v1/reporters/{item['reporter_id']}/replies/{secrets.token_hex(16)}"
        response = officer.request("POST", path, envelope)
        assert response.status_code == 201, json.dumps(response.get_json())

    return reply
