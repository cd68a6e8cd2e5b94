"""No dead ends in Chromium (issue 10, item 11): more files than a report can carry, with
JavaScript on and off. With the script, the page says so before anything is sent; without
it, the host brings the form back with every answer. Either way an error summary at the
top takes the focus, is announced (role=alert) and links to the file input."""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.conftest import PublicSite
from tests.browser.tab import PHONE, SCREENSHOTS

pytestmark = pytest.mark.browser

DESCRIPTION = "Une chaîne publie chaque jour des vidéos qui glorifient des attentats."


def _fill_with_files(page: Page, tmp_path: Path, count: int) -> None:
    page.locator("#category-terrorism").check(force=True)
    page.locator("#urls").fill("https://t.me/example/42")
    page.locator("#description").fill(DESCRIPTION)
    paths = []
    for index in range(count):
        path = tmp_path / f"capture-{index}.txt"
        path.write_text(f"file {index}")
        paths.append(str(path))
    page.locator("input[name=attachments]").set_input_files(paths)
    page.locator("#good_faith").check(force=True)


def _assert_summary_focused_and_linked(page: Page) -> None:
    summary = page.locator("#error-summary")
    assert summary.get_attribute("role") == "alert"
    assert "10" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    link = summary.locator("a[href='#attachments']")
    link.click()
    assert page.evaluate("document.activeElement.id") == "attachments"


def test_with_javascript_too_many_files_are_refused_in_the_page(
    browser: Browser, public_site: PublicSite, tmp_path: Path
) -> None:
    context = browser.new_context(locale="fr", viewport={"width": PHONE, "height": 800})
    page = context.new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    try:
        page.goto(f"{public_site.origin}/report?lang=fr")
        page.wait_for_selector("form[data-sealing=ready]", state="attached", timeout=30_000)
        _fill_with_files(page, tmp_path, 11)
        page.locator("form button[type=submit]").click()
        page.locator("#error-summary").wait_for(timeout=10_000)
        assert "Trop de fichiers : 10 au plus" in page.locator("#error-summary").inner_text()
        _assert_summary_focused_and_linked(page)
        assert page.locator("#description").input_value() == DESCRIPTION
    finally:
        context.close()
    assert posts == []


def test_without_javascript_too_many_files_bring_the_form_back_with_its_answers(
    browser: Browser, public_site: PublicSite, tmp_path: Path
) -> None:
    context = browser.new_context(
        locale="ar", viewport={"width": PHONE, "height": 800}, java_script_enabled=False
    )
    page = context.new_page()
    try:
        page.goto(f"{public_site.origin}/report?lang=ar")
        _fill_with_files(page, tmp_path, 11)
        with page.expect_navigation() as navigation:
            page.locator("form button[type=submit]").click()
        response = navigation.value
        assert response is not None and response.status == 413
        assert page.locator("#description").input_value() == DESCRIPTION
        assert page.locator("#urls").input_value() == "https://t.me/example/42"
        assert page.locator("#category-terrorism").is_checked()
        assert page.locator("#good_faith").is_checked()
        page.screenshot(path=SCREENSHOTS / "issue-10-form-kept-too-many-files-ar-phone.png")
        _assert_summary_focused_and_linked(page)
    finally:
        context.close()
