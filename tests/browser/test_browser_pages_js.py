"""Every public page with JavaScript on: axe-core finds nothing serious or critical, in
ar, fr, en and es, at 360 and 1280 px (issue 10, accessibility).

tests/browser/test_browser_pages.py audits the pages as Tor Browser at "Safest" gets
them (no script). Here the scripts run: the report form once its sealing is ready (the
photo option shown), the form sent back by the host, the receipt drawn in the page, the
status form and the status opened in the page, the follow-up form, the home page and a
missing page. One browser for all, one context per language and width; each page is
audited where the reporter sees it, after its scripts have changed it.
"""

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page

from tests.browser.conftest import PublicSite
from tests.browser.tab import AXE_REPORT, DESKTOP, FATAL_IMPACTS, PHONE, RTL, SCREENSHOTS

pytestmark = pytest.mark.browser

_AXE = Axe()
READY = 30_000


class Audit:
    """axe on the page in front of the reporter; every finding kept, fatal ones listed."""

    def __init__(self, page: Page, lang: str, width: int) -> None:
        self.page, self.lang, self.width = page, lang, width
        self.fatal: list[str] = []
        self.findings: list[str] = []
        page.on("pageerror", lambda error: self.fatal.append(f"page error: {error}"))
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.fatal.append(f"CSP violation: {message.text}")

    def __call__(self, name: str) -> None:
        where = f"js-{self.lang}-{self.width}-{name}"
        html = self.page.locator("html")
        assert html.get_attribute("lang") == self.lang, where
        assert html.get_attribute("dir") == ("rtl" if self.lang in RTL else "ltr"), where
        results = _AXE.run(self.page).response
        for violation in results["violations"]:
            targets = [" ".join(map(str, n["target"])) for n in violation["nodes"]][:5]
            line = f"{where}: {violation['id']} ({violation['impact']}) {targets}"
            self.findings.append(line)
            if violation["impact"] in FATAL_IMPACTS:
                self.fatal.append(f"accessibility: {line}")
        self.page.screenshot(path=SCREENSHOTS / f"{where}.png", full_page=True)


def _fill_report(page: Page) -> None:
    page.locator("#category-terrorism").check(force=True)
    page.locator("#urls").fill("https://t.me/example/42")
    page.locator("#description").fill("A channel posts propaganda every day.")
    page.locator("#good_faith").check(force=True)


@pytest.mark.parametrize("width", [PHONE, DESKTOP], ids=["phone", "desktop"])
@pytest.mark.parametrize("lang", ["ar", "fr", "en", "es"])
def test_every_public_page_with_javascript_on_has_no_serious_axe_finding(
    browser: Browser, public_site: PublicSite, lang: str, width: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, locale=lang)
    page = context.new_page()
    audit = Audit(page, lang, width)
    origin = public_site.origin
    try:
        page.goto(f"{origin}/?lang={lang}")
        audit("home")

        page.goto(f"{origin}/report?lang={lang}")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=READY)
        assert page.locator("#strip-metadata-option").is_visible()
        audit("report")

        # Sent without a category: the page leaves it to the host's form, which explains.
        with page.expect_navigation():
            page.locator("form button[type=submit]").click()
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=READY)
        assert page.locator("#error-summary").is_visible()
        audit("report-errors")

        _fill_report(page)
        page.locator("form button[type=submit]").click()
        code = page.locator(".receipt-code bdi").inner_text(timeout=60_000).strip()
        audit("receipt")

        page.goto(f"{origin}/status?lang={lang}")
        page.wait_for_selector("form[data-opening=ready]", state="attached", timeout=READY)
        audit("status-form")
        page.locator("#code").fill(code)
        page.locator("form button[type=submit]").click()
        page.locator("main .status strong").wait_for(timeout=60_000)
        audit("status")

        page.goto(f"{origin}/followup?lang={lang}")
        audit("followup")

        page.goto(f"{origin}/no-such-page?lang={lang}")
        audit("not-found")
    finally:
        context.close()
        if audit.findings:
            with Path(AXE_REPORT).open("a", encoding="utf-8") as report:
                report.write("".join(f"{line}\n" for line in audit.findings))
    assert not audit.fatal, "\n".join(audit.fatal)
