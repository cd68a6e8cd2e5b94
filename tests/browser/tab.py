"""A reporter's browser tab with JavaScript off, and everything we check on each page.

``ReporterTab`` drives a page in a context with ``java_script_enabled=False`` (Tor
Browser at "Safest"). It watches every request, console message and page error while
the reporter moves through the site, and ``check(name)`` audits the page in front of
it: language and direction, horizontal overflow, tap targets, text size, a full-page
screenshot, and axe-core.

axe-core cannot run in a page whose scripts are disabled (its promises never settle),
so each audited document is replayed, byte for byte and with its own headers (the CSP
included), in a second page with scripts on and the same viewport; axe runs there.
"""

import re
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Request,
    Response,
    ViewportSize,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
# Every axe finding, fatal or not, for whoever reads CI's artifacts.
AXE_REPORT = ARTIFACTS / "axe-findings.txt"
PHONE = 360
DESKTOP = 1280
RTL = frozenset({"ar"})
# axe impacts that fail the suite; "moderate" and "minor" are reported, not fatal.
FATAL_IMPACTS = frozenset({"serious", "critical"})
MIN_TARGET_PX = 44
MIN_TEXT_PX = 16

_AXE = Axe()

# Boxes a finger has to hit. Radio buttons are inside .choice cards, which are the target.
_TARGETS_JS = """() => {
  const selector = 'a.button, button, .languages a, .brand, .choice, ' +
    'input:not([type=hidden]):not([type=radio]):not([type=checkbox]), select, textarea';
  return [...document.querySelectorAll(selector)]
    .filter(el => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
    .map(el => {
      const box = el.getBoundingClientRect();
      return {what: el.outerHTML.slice(0, 120), width: box.width, height: box.height};
    });
}"""

# Every visible run of text, with the size it is drawn at.
_TEXT_SIZES_JS = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const sizes = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    const parent = node.parentElement;
    if (!text || !parent || parent.getClientRects().length === 0) continue;
    const style = getComputedStyle(parent);
    if (style.visibility === 'hidden') continue;
    sizes.push({text: text.slice(0, 60), px: parseFloat(style.fontSize)});
  }
  return sizes;
}"""

_OVERFLOW_JS = """() => {
  const root = document.documentElement;
  return {scroll: root.scrollWidth, client: root.clientWidth};
}"""


@dataclass
class ReporterTab:
    """One reporter's tab: a language, a viewport width, scripts off."""

    page: Page
    inspector: Page
    origin: str
    lang: str
    width: int
    problems: list[str] = field(default_factory=list)
    accessibility: list[str] = field(default_factory=list)
    _documents: dict[str, Response] = field(default_factory=dict)

    # Watching

    def watch(self, context: BrowserContext, inspector_context: BrowserContext) -> None:
        """Record whatever would fail the suite: third parties, console errors, page errors."""
        context.on("request", self._on_request)
        inspector_context.on("request", self._on_request)
        self.inspector.on("console", self._on_inspector_console)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("response", self._on_response)
        self.page.on("requestfailed", self._on_request_failed)

    def _on_request(self, request: Request) -> None:
        url = urllib.parse.urlsplit(request.url)
        if url.scheme in ("data", "about", "blob"):
            return
        if url.hostname != urllib.parse.urlsplit(self.origin).hostname:
            self.problems.append(f"request to another host: {request.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"CSP violation: {text}")
        elif message.type == "error":
            # Chromium logs a 4xx document as a failed resource; the step that expected
            # that status has already checked it.
            where = message.location.get("url", "")
            document = self._documents.get(where)
            if not (text.startswith("Failed to load resource") and document is not None):
                self.problems.append(f"console error: {text} ({where})")

    def _on_inspector_console(self, message: ConsoleMessage) -> None:
        """The replayed page runs with scripts on: the CSP must still hold there."""
        if "Content Security Policy" in message.text:
            self.problems.append(f"CSP violation (scripts on): {message.text}")

    def _on_response(self, response: Response) -> None:
        request = response.request
        if request.resource_type == "document" and request.frame == self.page.main_frame:
            self._documents[response.url] = response
        elif response.status >= 400:
            self.problems.append(f"{response.status} for {response.url}")

    def _on_request_failed(self, request: Request) -> None:
        self.problems.append(f"request failed: {request.url} ({request.failure})")

    # Moving around

    def open(self, path: str, *, status: int = 200) -> Response:
        response = self.page.goto(self.origin + path)
        assert response is not None
        assert response.status == status, f"{path}: {response.status}, wanted {status}"
        return response

    @contextmanager
    def navigation(self, *, status: int = 200) -> Iterator[None]:
        """Wrap an action (a click, Enter in a field) that must load a new document."""
        with self.page.expect_navigation() as navigation:
            yield
        response = navigation.value
        assert response is not None, "the action loaded no page"
        assert response.status == status, f"{response.url}: {response.status}, wanted {status}"

    # Checking

    def check(self, name: str, *, axe: bool = True) -> Path:
        """Audit the page in front of the reporter and save its full-page screenshot."""
        page = self.page
        where = f"{self.lang}-{self.width}-{name}"
        html = page.locator("html")
        assert html.get_attribute("lang") == self.lang, f"{where}: wrong lang"
        assert html.get_attribute("dir") == ("rtl" if self.lang in RTL else "ltr"), where
        self._check_no_horizontal_overflow(where)
        self._check_targets(where)
        self._check_text_sizes(where)
        shot = SCREENSHOTS / f"{where}.png"
        page.screenshot(path=shot, full_page=True)
        if axe:
            self._check_accessibility(where)
        return shot

    def _check_no_horizontal_overflow(self, where: str) -> None:
        widths = self.page.evaluate(_OVERFLOW_JS)
        assert widths["scroll"] <= widths["client"], f"{where}: horizontal overflow {widths}"

    def _check_targets(self, where: str) -> None:
        small = [
            t
            for t in self.page.evaluate(_TARGETS_JS)
            if t["height"] < MIN_TARGET_PX or t["width"] < MIN_TARGET_PX
        ]
        assert not small, f"{where}: targets under {MIN_TARGET_PX} px: {small}"

    def _check_text_sizes(self, where: str) -> None:
        tiny = [t for t in self.page.evaluate(_TEXT_SIZES_JS) if t["px"] < MIN_TEXT_PX]
        assert not tiny, f"{where}: text under {MIN_TEXT_PX} px: {tiny}"

    def _check_accessibility(self, where: str) -> None:
        document = self._documents.get(self.page.url)
        assert document is not None, f"{where}: no document response recorded"
        body = document.body()
        headers = {k: v for k, v in document.headers.items() if k.lower() != "set-cookie"}
        assert "default-src 'none'" in headers.get("content-security-policy", ""), where

        def replay(route: Any) -> None:
            route.fulfill(status=document.status, headers=headers, body=body)

        def this_document(url: str) -> bool:
            return url == document.url

        self.inspector.route(this_document, replay)
        try:
            self.inspector.goto(document.url)
            assert self.inspector.title() == self.page.title(), f"{where}: replay differs"
            results = _AXE.run(self.inspector).response
        finally:
            self.inspector.unroute(this_document, replay)
        for violation in results["violations"]:
            targets = [" ".join(map(str, n["target"])) for n in violation["nodes"]][:5]
            line = f"{where}: {violation['id']} ({violation['impact']}) {targets}"
            self.accessibility.append(line)
            if violation["impact"] in FATAL_IMPACTS:
                self.problems.append(f"accessibility: {line}")

    def assert_clean(self) -> None:
        """Fail with everything recorded so far: one failure lists all the problems."""
        assert not self.problems, "\n".join(self.problems)


@dataclass
class TabFactory:
    """Opens reporter tabs on one browser; closes their contexts afterwards."""

    browser: Browser
    origin: str
    contexts: list[BrowserContext] = field(default_factory=list)
    tabs: list[ReporterTab] = field(default_factory=list)

    def __call__(self, lang: str, width: int, *, accept_language: str | None = None) -> ReporterTab:
        """A tab whose browser asks for ``accept_language`` (default: ``lang``)."""
        viewport: ViewportSize = {"width": width, "height": 800}
        locale = accept_language or lang
        context = self.browser.new_context(
            viewport=viewport, java_script_enabled=False, locale=locale
        )
        inspector_context = self.browser.new_context(viewport=viewport, locale=locale)
        self.contexts += [context, inspector_context]
        tab = ReporterTab(
            context.new_page(), inspector_context.new_page(), self.origin, lang, width
        )
        tab.watch(context, inspector_context)
        self.tabs.append(tab)
        return tab

    def close(self) -> None:
        findings = [line for tab in self.tabs for line in tab.accessibility]
        if findings:
            with AXE_REPORT.open("a", encoding="utf-8") as report:
                report.write("".join(f"{line}\n" for line in findings))
        for context in self.contexts:
            context.close()


def western_digits_only(text: str) -> bool:
    """True when ``text`` has digits and all of them are 0-9 (no Arabic-Indic ones)."""
    return bool(re.search(r"[0-9]", text)) and not re.search(r"[\u0660-\u0669\u06f0-\u06f9]", text)
