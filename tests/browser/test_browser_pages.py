"""Every public page in Debian's Chromium, with JavaScript off, on a phone and a desktop.

A reporter on Tor Browser at "Safest" has no script: each flow here runs in a context
with ``java_script_enabled=False``, from the home page to the receipt and back with the
code. Every page is audited by ``ReporterTab.check`` (language and direction, no
horizontal overflow, 44 px targets, 16 px text, axe-core serious/critical, screenshot in
test-artifacts/screenshots/) and every tab fails on a console error, a page error, a CSP
violation or a request to any host but 127.0.0.1.
"""

import re
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from babel.dates import format_date
from playwright.sync_api import Route

from tests.browser.tab import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    ReporterTab,
    TabFactory,
    western_digits_only,
)

pytestmark = pytest.mark.browser

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")

DESCRIPTIONS = {
    "ar": "قناة تنشر كل يوم مقاطع تمجّد هجمات إرهابية وتدعو إلى الانضمام.",
    "fr": "Une chaîne publie chaque jour des vidéos qui glorifient des attentats.",
    "en": "A channel posts videos glorifying attacks every day.",
    "es": "Un canal publica cada día vídeos que glorifican atentados.",
}
FOLLOWUPS = {
    "ar": "نقلت القناة مقاطعها إلى عنوان جديد.",
    "fr": "La chaîne a déplacé ses vidéos vers une nouvelle adresse.",
    "en": "The channel moved its videos to a new address.",
    "es": "El canal trasladó sus vídeos a una nueva dirección.",
}
REPLIES = {
    "ar": "شكراً على بلاغكم. نحن نفحص هذه القناة.",
    "fr": "Merci pour votre signalement. Nous examinons cette chaîne.",
    "en": "Thank you for your report. We are looking at this channel.",
    "es": "Gracias por su denuncia. Estamos examinando este canal.",
}

# One stop per element in document order; a radio group is one stop (its checked button).
_FOCUS_ORDER_JS = """() => {
  const key = el => el.id ? `${el.tagName.toLowerCase()}#${el.id}`
    : `${el.tagName.toLowerCase()}[${el.getAttribute('href') || el.getAttribute('name') || ''}]`;
  const candidates = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]');
  const stops = [], groups = new Set();
  for (const el of candidates) {
    if (el.tabIndex < 0 || el.disabled) continue;
    if (el.type === 'radio') {
      if (groups.has(el.name)) continue;
      groups.add(el.name);
      const group = [...document.getElementsByName(el.name)];
      stops.push(key(group.find(r => r.checked) || group[0]));
      continue;
    }
    stops.push(key(el));
  }
  return stops;
}"""

_FOCUSED_JS = """() => {
  const el = document.activeElement;
  const key = el.id ? `${el.tagName.toLowerCase()}#${el.id}`
    : `${el.tagName.toLowerCase()}[${el.getAttribute('href') || el.getAttribute('name') || ''}]`;
  // A radio button's focus is drawn on its card.
  const drawn = el.matches('.choice > input') ? el.closest('.choice') : el;
  const style = getComputedStyle(drawn);
  const ring = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  const box = drawn.getBoundingClientRect();
  const onScreen = box.bottom > 0 && box.top < innerHeight
    && box.right > 0 && box.left < innerWidth;
  return {key, ring, onScreen};
}"""


def path_of(tab: ReporterTab) -> str:
    return urllib.parse.urlsplit(tab.page.url).path


def tap(tab: ReporterTab, selector: str) -> None:
    """A finger on the middle of ``selector``, whatever is drawn on top of it."""
    target = tab.page.locator(selector)
    target.scroll_into_view_if_needed()
    box = target.bounding_box()
    assert box is not None, f"{selector} is not on the page"
    tab.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def month_names(lang: str) -> set[str]:
    """The abbreviated month around now, as Babel writes it in ``lang``."""
    now = datetime.now(UTC)
    return {format_date(now + timedelta(hours=h), "MMM", locale=lang) for h in (-3, 0, 3)}


@pytest.mark.parametrize(
    ("lang", "width"),
    [
        ("ar", PHONE), ("ar", DESKTOP), ("fr", PHONE), ("fr", DESKTOP),
        ("en", PHONE), ("en", DESKTOP), ("es", PHONE), ("es", DESKTOP),
    ],
    ids=[
        "ar-phone", "ar-desktop", "fr-phone", "fr-desktop",
        "en-phone", "en-desktop", "es-phone", "es-desktop",
    ],
)  # fmt: skip
def test_a_reporter_without_javascript_reports_and_follows_up(
    open_tab: TabFactory, officer_reply: Callable[..., None], lang: str, width: int
) -> None:
    # The browser asks for the language the way a phone set to it does.
    accept = {"ar": "ar-MA", "fr": "fr-FR", "en": "en-GB", "es": "es-ES"}[lang]
    tab = open_tab(lang, width, accept_language=accept)
    page = tab.page

    tab.open("/")
    tab.check("home")

    with tab.navigation():
        page.locator("main a.button.primary").click()
    assert path_of(tab) == "/report"
    tab.check("report")

    # Sent empty: the form comes back marked, in the reporter's language.
    with tab.navigation(status=400):
        page.locator("form button[type=submit]").click()
    assert page.locator("main .alert").is_visible()
    assert page.locator("[aria-invalid=true]").count() >= 2
    assert page.locator(".errors").count() >= 3
    tab.check("report-errors")

    # A tap on a category's explanation picks it: the whole card is the target.
    tap(tab, "#category-terrorism-hint")
    assert page.locator("#category-terrorism").is_checked()
    page.locator("#urls").fill("https://t.me/example/42")
    page.locator("#description").fill(DESCRIPTIONS[lang])
    page.locator("label[for=good_faith]").click()
    assert page.locator("#good_faith").is_checked()
    with tab.navigation():
        page.locator("form button[type=submit]").click()
    code_box = page.locator(".receipt-code")
    code = code_box.inner_text().strip()
    assert re.fullmatch(r"\d{4}( \d{4}){4}", code), code  # Western digits, every language
    assert code_box.get_attribute("dir") == "ltr"
    tab.check("receipt")

    # On paper: no navigation, no footer, the code large.
    page.emulate_media(media="print")
    try:
        assert not page.locator("header.site nav").is_visible()
        assert not page.locator("footer.site").is_visible()
        assert code_box.is_visible()
        size = code_box.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
        assert size >= 32, size
        page.screenshot(path=SCREENSHOTS / f"{lang}-{width}-receipt-print.png", full_page=True)
    finally:
        page.emulate_media(media="screen")

    officer_reply(code, status="under_review", message=REPLIES[lang])

    with tab.navigation():
        page.locator("main a[href^='/status']").click()
    assert path_of(tab) == "/status"
    tab.check("status-form")

    # An Arabic keyboard types Arabic-Indic digits; Enter sends the form without script.
    typed = code.translate(ARABIC_INDIC) if lang == "ar" else code.replace(" ", "-")
    page.locator("#code").fill(typed)
    with tab.navigation():
        page.locator("#code").press("Enter")
    main = page.locator("main")
    assert REPLIES[lang] in main.inner_text()
    date = page.locator(".replies .meta").first.inner_text()
    assert western_digits_only(date), date
    if lang == "fr":
        assert any(month in date for month in month_names("fr")), date
    tab.check("status")

    # The follow-up form under the replies: the code is typed again, then the message.
    followup = page.locator("form[action^='/followup']")
    followup.locator("#code").fill(code)
    followup.locator("#message").fill(FOLLOWUPS[lang])
    with tab.navigation():
        followup.locator("button[type=submit]").click()
    assert path_of(tab) == "/followup"
    assert page.locator("main h1").count() == 1
    assert not page.locator("main .errors").count()
    tab.check("followup-sent")

    # The follow-up page on its own, as its confirmation's link and the status form reach it.
    tab.open("/followup")
    assert page.locator("form[action^='/followup'] #code").is_visible()
    tab.check("followup")

    tab.open("/nope", status=404)
    tab.check("not-found")

    tab.assert_clean()


@pytest.mark.parametrize(
    ("lang", "width"),
    [("ar", PHONE), ("ar", DESKTOP), ("fr", PHONE), ("fr", DESKTOP)],
    ids=["ar-phone", "ar-desktop", "fr-phone", "fr-desktop"],
)
def test_the_limit_pages_say_what_happened_in_the_reporters_language(
    open_limited_tab: TabFactory, lang: str, width: int
) -> None:
    tab = open_limited_tab(lang, width, accept_language={"ar": "ar-MA", "fr": "fr-FR"}[lang])
    page = tab.page

    # 413: a description longer than the host reads in one field (16 KiB there).
    tab.open("/report")
    page.locator("#description").fill(DESCRIPTIONS[lang] * (19_000 // len(DESCRIPTIONS[lang])))
    with tab.navigation(status=413):
        page.locator("form button[type=submit]").click()
    assert page.locator("main").inner_text().strip()
    tab.check("too-large")

    # 429: a second receipt code from the same browser session (one allowed there).
    tab.open("/status")
    for status in (404, 429):
        page.locator("#code").fill("1234 5678 9012 3456 7890")
        with tab.navigation(status=status):
            page.locator("#code").press("Enter")
    assert page.locator("main").inner_text().strip()
    tab.check("too-many")

    tab.assert_clean()


ALREADY_SENT = {"ar": "سبق", "fr": "déjà", "en": "already", "es": "ya"}


@pytest.mark.parametrize(
    ("lang", "width"), [("ar", PHONE), ("fr", DESKTOP)], ids=["ar-phone", "fr-desktop"]
)
def test_a_report_form_sent_twice_is_filed_once_and_the_page_says_so(
    open_tab: TabFactory, lang: str, width: int
) -> None:
    """A reload of the receipt sends the same form again (issue 10, item 8): the browser
    here sends its POST twice, as a reload does, and shows the second answer."""
    tab = open_tab(lang, width)
    page = tab.page
    tab.open("/report")
    page.locator("#category-terrorism").check(force=True)
    page.locator("#urls").fill("https://t.me/example/42")
    page.locator("#description").fill(DESCRIPTIONS[lang])
    page.locator("label[for=good_faith]").click()
    firsts: list[int] = []

    def twice(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        firsts.append(route.fetch().status)  # filed: its receipt is never shown
        route.continue_()  # then the browser's own POST: the same bytes again

    page.route("**/report*", twice)
    with tab.navigation(status=409):
        page.locator("form button[type=submit]").click()
    assert firsts == [200]
    assert ALREADY_SENT[lang] in page.locator("main h1").inner_text().lower()
    assert page.locator("main a[href^='/status']").is_visible()
    tab.check("already-sent")
    tab.assert_clean()


def test_arabic_is_served_when_the_browser_asks_for_no_shipped_language(
    open_tab: TabFactory,
) -> None:
    tab = open_tab("ar", PHONE, accept_language="de-DE")
    tab.open("/")
    html = tab.page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    tab.assert_clean()


def test_the_language_switch_works_without_script_and_keeps_the_page(
    open_tab: TabFactory,
) -> None:
    tab = open_tab("fr", PHONE, accept_language="fr-FR")
    page = tab.page
    tab.open("/status")
    links = page.locator("nav.languages a")
    assert links.count() == 4
    for index in range(links.count()):
        link = links.nth(index)
        assert link.get_attribute("lang") == link.get_attribute("hreflang")
        target = urllib.parse.urljoin(page.url, link.get_attribute("href") or "")
        assert urllib.parse.urlsplit(target).path == "/status"
    current = page.locator("nav.languages a[aria-current]")
    assert current.count() == 1
    assert current.get_attribute("hreflang") == "fr"

    with tab.navigation():
        page.locator("nav.languages a[hreflang=ar]").click()
    assert path_of(tab) == "/status"
    html = page.locator("html")
    assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
    assert page.locator("nav.languages a[aria-current]").get_attribute("hreflang") == "ar"
    tab.lang = "ar"
    tab.check("status-form-switched", axe=False)
    tab.assert_clean()


@pytest.mark.parametrize(
    ("lang", "width"), [("ar", PHONE), ("fr", DESKTOP)], ids=["ar-phone", "fr-desktop"]
)
def test_the_report_form_works_with_the_keyboard_alone(
    open_tab: TabFactory, lang: str, width: int
) -> None:
    tab = open_tab(lang, width)
    page = tab.page
    tab.open("/report")
    expected = page.evaluate(_FOCUS_ORDER_JS)

    # Tab walks the page in reading order, each stop visibly focused, the skip link first.
    # A date field is one stop per part (day, month, year): repeats count once.
    seen: list[str] = []
    for _ in range(3 * len(expected)):
        if len(seen) == len(expected):
            break
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED_JS)
        assert focused["ring"], f"no visible focus on {focused['key']}"
        assert focused["onScreen"], f"{focused['key']} is focused off screen"
        if not seen or seen[-1] != focused["key"]:
            seen.append(focused["key"])
        if len(seen) == 1:
            page.screenshot(path=SCREENSHOTS / f"{lang}-{width}-skip-link.png")
    assert seen == expected
    assert seen[0] == "a[#main]"

    # The skip link lands in the main content: the next stop is the first question.
    tab.open("/report")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "category"

    # Arrow keys move within the categories; Space is not needed, the arrow checks it.
    page.keyboard.press("ArrowDown")
    second = page.evaluate("document.activeElement.id")
    assert page.locator(f"#{second}").is_checked()
    page.screenshot(path=SCREENSHOTS / f"{lang}-{width}-category-focus.png")

    def tab_to(selector: str) -> None:
        for _ in range(len(expected)):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#urls")
    page.keyboard.type("https://t.me/example/42")
    tab_to("#description")
    page.keyboard.type(DESCRIPTIONS["ar" if lang == "ar" else "fr"])
    tab_to("#good_faith")
    page.keyboard.press("Space")
    tab_to("button[type=submit]")
    with tab.navigation():
        page.keyboard.press("Enter")
    assert re.fullmatch(r"\d{4}( \d{4}){4}", page.locator(".receipt-code").inner_text().strip())
    tab.assert_clean()
