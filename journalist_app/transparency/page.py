"""The transparency report as static HTML, one file per language, through Flask-Babel."""

from flask import Flask, has_request_context, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from journalist_app.i18n import AUTONYMS, LANGUAGES
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
