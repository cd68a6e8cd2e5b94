"""The transparency report as static HTML, one file per language, through Flask-Babel,
and the same pages as PDF (WeasyPrint: Arabic shaped and right to left)."""

from flask import Flask, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from weasyprint import CSS, HTML

from journalist_app.i18n import AUTONYMS, LANGUAGES
from journalist_app.referral.documents import fetch_local_only
from journalist_app.stats.tables import outcome_label
from journalist_app.transparency.release import NOT_READ, Release
from journalist_app.triage.categories import category_label


def render_report(release: Release, language: str) -> str:
    """The page in ``language``; call inside a request context whose locale is ``language``."""

    def figure(count: int) -> str:
        shown = release.shown(count)
        if shown is None:
            return str(_("fewer than %(threshold)s", threshold=release.threshold))
        return f"{shown:,}".replace(",", "\u202f")

    def category_name(key: str) -> str:
        return _("Not yet read") if key == NOT_READ else category_label(key)

    return render_template(
        "transparency/report.html",
        release=release,
        figure=figure,
        category_name=category_name,
        outcome_name=outcome_label,
        languages=[(code, AUTONYMS[code]) for code in LANGUAGES],
    )


def render_all(app: Flask, release: Release) -> dict[str, str]:
    """Every language's page, by language code."""
    if not has_request_context():
        with app.test_request_context("/"):
            return render_all(app, release)
    pages = {}
    for language in LANGUAGES:
        with force_locale(language):
            pages[language] = render_report(release, language)
    return pages


# The HTML page has no style sheet (the public host serves it bare); on paper it gets a
# page size, a font with Arabic glyphs, and ruled tables.
_PRINT_CSS = """
@page { size: A4; margin: 18mm 16mm; }
body { font-family: "DejaVu Sans", sans-serif; font-size: 10.5pt; line-height: 1.45; }
nav { display: none; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
caption { font-weight: bold; text-align: start; margin-bottom: 0.3em; }
th, td { border: 0.5pt solid #888; padding: 3pt 6pt; text-align: start; }
td { font-variant-numeric: tabular-nums; }
dl { display: grid; }
dt { font-weight: bold; }
"""


def report_pdf(html: str) -> bytes:
    """One language's page (from :func:`render_all`) as a PDF; nothing is fetched."""
    document: bytes = HTML(string=html, url_fetcher=fetch_local_only(), base_url=None).write_pdf(
        stylesheets=[CSS(string=_PRINT_CSS)]
    )
    return document
