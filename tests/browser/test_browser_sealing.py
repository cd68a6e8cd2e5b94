"""The report form sealed in Chromium (issue 10): nothing typed leaves the browser.

With JavaScript on, every request the page makes is intercepted and searched for the
markers typed into each field and written into the attached file, in every encoding a
careless page could use; the report still reaches the unit, which opens it with its
keys. With WebAssembly off the form takes the server path and still works.
"""

import base64
import hashlib
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, Route

from crypto.contents import IdentitySection, ReportBody
from crypto.envelope import open_bytes
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.browser.conftest import PublicSite
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient

pytestmark = pytest.mark.browser

MARKERS = {
    "description": "Mdescr7Q9 وصف سري",
    "urls": "https://t.me/Murl4K2x/42",
    "platform": "Mplat8Z3",
    "account": "@Macct5W1",
    "full_name": "Mname6J2 سلمى",
    "phone": "0611223344",
}
FILE_MARKER = b"Mfile3P7-contents-of-the-screenshot"


def _encodings(marker: str) -> list[bytes]:
    raw = marker.encode()
    return [
        raw,
        marker.encode("utf-16-le"),
        urllib.parse.quote(marker).encode(),
        urllib.parse.quote_plus(marker).encode(),
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        raw.hex().encode(),
        raw.hex().upper().encode(),
    ]


NEEDLES = [n for m in [*MARKERS.values(), FILE_MARKER.decode()] for n in _encodings(m)] + [
    # The distinctive parts alone, as a field might be split or trimmed.
    *(re.sub(r"[^A-Za-z0-9]", "", m)[:8].encode() for m in MARKERS.values()),
    *(token.encode() for token in re.findall(r"M[a-z]+[0-9][A-Za-z0-9]+", str(MARKERS))),
]


class RequestLog:
    """Every request the page makes: URL, headers and body, searched for the markers."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []

    def route(self, route: Route, request: Request) -> None:
        seen = request.url.encode() + repr(request.headers).encode()
        self.requests.append((request.url, seen + (request.post_data_buffer or b"")))
        route.continue_()

    def leaks(self) -> list[str]:
        return [
            f"{url}: {needle[:24]!r}"
            for url, seen in self.requests
            for needle in NEEDLES
            if needle in seen
        ]


def _fill_report(page: Page, tmp_path: Path) -> None:
    page.locator("#category-terrorism").check(force=True)
    # Typed as people paste it: the browser writes it as the host would (urls.js).
    page.locator("#urls").fill(MARKERS["urls"].replace("https://", "") + ".")
    page.locator("#description").fill(MARKERS["description"])
    page.locator("#platform").fill(MARKERS["platform"])
    page.locator("#account").fill(MARKERS["account"])
    page.locator("input[name=identity][value=identified]").check(force=True)
    page.locator("#full_name").fill(MARKERS["full_name"])
    page.locator("#phone").fill(MARKERS["phone"])
    screenshot = tmp_path / "Mfile-name-is-sent.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + FILE_MARKER * 3000)
    page.locator("input[name=attachments]").set_input_files(str(screenshot))
    page.locator("#good_faith").check(force=True)


def _officer_opens(
    site: PublicSite, unit_keys: UnitKeys, code: str
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The submission's blobs as the officer host pulls them, and their opened contents."""
    sync_app = create_sync_app(SourceConfig.from_env(source_environ(site.data_dir)))
    officer = SignedSyncClient(sync_app.test_client(), unit_keys.sync)
    public_key = derive_reporter_secrets(ReceiptCode.parse(code)).public_key
    wanted = base64.b64encode(bytes(public_key)).decode()
    (item,) = [i for i in officer.pending() if i["reporter_public_key"] == wanted]
    keys = [unit_keys.intake, unit_keys.identity]
    blobs, opened = {}, {}
    for blob in item["blobs"]:
        envelope = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/{blob['name']}").data
        blobs[blob["name"]] = envelope
        opened[blob["name"]] = open_bytes(envelope, keys)[1]
    return blobs, opened


def test_with_javascript_nothing_typed_leaves_the_browser_and_the_unit_opens_it(
    browser: Browser, public_site: PublicSite, unit_keys: UnitKeys, tmp_path: Path
) -> None:
    context = browser.new_context(locale="en")
    log = RequestLog()
    context.route("**/*", log.route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{public_site.origin}/report?lang=en")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        _fill_report(page, tmp_path)
        page.locator("form button[type=submit]").click()
        code_box = page.locator(".receipt-code bdi")
        code_box.wait_for(timeout=60_000)
        code = code_box.inner_text().strip()
        assert page.url.endswith("/report?lang=en")  # no navigation: the page sealed
    finally:
        context.close()
    assert not errors, errors
    assert re.fullmatch(r"\d{4}( \d{4}){4}", code), code
    posts = [url for url, _ in log.requests if url.endswith("/report/sealed")]
    assert len(posts) == 1
    assert log.leaks() == []
    # The code itself never left the browser either.
    digits = code.replace(" ", "").encode()
    assert not any(digits in seen for _url, seen in log.requests)

    blobs, opened = _officer_opens(public_site, unit_keys, code)
    assert sorted(opened) == ["attachment-1", "body", "identity"]
    body = ReportBody.from_json(opened["body"])
    assert body.description == MARKERS["description"]
    assert body.urls == (MARKERS["urls"],)
    assert body.platform == MARKERS["platform"]
    assert body.attachments[0].content_type == "image/png"
    identity = IdentitySection.from_json(opened["identity"])
    assert identity.full_name == MARKERS["full_name"]
    assert identity.phone == "+212611223344"  # the host's standard form (identity.js)
    # Body version 2, as the server path writes it (docs/envelope.md): signed by the
    # code's key, bound to the identity envelope and section.
    secrets = derive_reporter_secrets(ReceiptCode.parse(code))
    assert body.reporter_verify_key == base64.b64encode(bytes(secrets.verify_key)).decode()
    assert body.signature_valid(body.reporter_verify_key)
    assert body.identity_sha256 == hashlib.sha256(blobs["identity"]).hexdigest()
    assert identity.binding == body.binding
    assert body.attachments[0].sha256 == hashlib.sha256(opened["attachment-1"]).hexdigest()
    assert opened["attachment-1"].endswith(FILE_MARKER)


def test_without_webassembly_the_form_posts_and_the_server_seals(
    browser: Browser, public_site: PublicSite, unit_keys: UnitKeys, tmp_path: Path
) -> None:
    context = browser.new_context(locale="en")
    # A browser without WebAssembly (some hardened profiles): the global is missing.
    context.add_init_script("delete globalThis.WebAssembly;")
    page = context.new_page()
    try:
        page.goto(f"{public_site.origin}/report?lang=en")
        assert page.evaluate("typeof WebAssembly") == "undefined"
        _fill_report(page, tmp_path)
        with page.expect_navigation():
            page.locator("form button[type=submit]").click()
        code = page.locator(".receipt-code bdi").inner_text().strip()
        server_path = page.url.endswith("/report?lang=en")
    finally:
        context.close()
    assert server_path  # the receipt page the server renders after its own POST
    _, opened = _officer_opens(public_site, unit_keys, code)
    assert ReportBody.from_json(opened["body"]).description == MARKERS["description"]


def test_the_status_page_sends_the_lookup_value_and_opens_replies_in_the_page(
    browser: Browser,
    public_site: PublicSite,
    officer_reply: Callable[..., None],
    tmp_path: Path,
) -> None:
    context = browser.new_context(locale="fr")
    log = RequestLog()
    context.route("**/*", log.route)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{public_site.origin}/report?lang=fr")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        _fill_report(page, tmp_path)
        page.locator("form button[type=submit]").click()
        code = page.locator(".receipt-code bdi").inner_text(timeout=60_000).strip()
        reply = "Mreply9T4 merci, nous avons transmis votre signalement."
        officer_reply(code, status="referred", message=reply)
        page.goto(f"{public_site.origin}/status?lang=fr")
        page.wait_for_selector("form[data-opening=ready]", state="attached", timeout=30_000)
        page.locator("#code").fill(code)
        page.locator("form button[type=submit]").click()
        message = page.locator(".replies .message")
        message.wait_for(timeout=60_000)
        shown = message.inner_text()
        status = page.locator(".status strong").inner_text()
        assert page.url.endswith("/status?lang=fr")  # no navigation: opened in the page
    finally:
        context.close()
    assert not errors, errors
    assert shown == reply
    assert status == "Transmis à la police judiciaire"
    digits = code.replace(" ", "")
    for needle in (digits, code, urllib.parse.quote_plus(code)):
        assert not any(needle.encode() in seen for _url, seen in log.requests), needle
    assert [url for url, _ in log.requests if url.endswith("/status/sealed")]


def test_identity_typed_under_anonymous_is_refused_in_the_page_and_never_sent(
    browser: Browser, public_site: PublicSite, tmp_path: Path
) -> None:
    """The page does not guess which one was meant nor drop the details (issue 10, item
    9): it says so at the top, every field kept, and nothing leaves the browser."""
    context = browser.new_context(locale="en")
    log = RequestLog()
    context.route("**/*", log.route)
    page = context.new_page()
    try:
        page.goto(f"{public_site.origin}/report?lang=en")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        _fill_report(page, tmp_path)
        page.locator("input[name=identity][value=anonymous]").check(force=True)
        page.locator("form button[type=submit]").click()
        summary = page.locator("#error-summary")
        summary.wait_for(timeout=10_000)
        assert "You chose to stay anonymous but typed details" in summary.inner_text()
        assert page.evaluate("document.activeElement.id") == "error-summary"
        summary.locator("a[href='#identity-0']").click()
        assert page.evaluate("document.activeElement.id") == "identity-0"
        assert page.locator("#full_name").input_value() == MARKERS["full_name"]
        assert page.locator("#description").input_value() == MARKERS["description"]
    finally:
        context.close()
    assert not [url for url, _ in log.requests if "/report/" in url]
    form_posts = [url for url, seen in log.requests if url.endswith("/report?lang=en")]
    assert len(form_posts) == 1  # the page only: no POST of the form either
    assert log.leaks() == []
