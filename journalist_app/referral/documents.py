"""The documents of a referral: the dossier (one PDF per language), the prosecutor notice
and the takedown notice, rendered by WeasyPrint from templates/referral/pdf/.

Every label goes through the officer app's catalogs (Flask-Babel, forced to the
document's language), so the Arabic dossier is written in Arabic, right to left, with
letters shaped by HarfBuzz (DejaVu Sans holds the glyphs). Reporters' text keeps its
own direction (``dir="auto"``); addresses and hashes are isolated left to right.
WeasyPrint may fetch only ``file:`` and ``data:`` URLs: nothing is fetched from a
network, whatever a report's text holds (it is escaped anyway).
"""

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, has_app_context, render_template
from flask_babel import force_locale
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from journalist_app.referral.directory import (
    Court,
    Partner,
    Qualification,
    Rule,
    UnitIdentity,
)
from journalist_app.referral.dossier import CaseFacts
from journalist_app.triage.categories import category_label
from journalist_app.triage.rendering import clean_text
from journalist_app.triage.territories import Territory

PDF_LANGUAGES = ("fr", "ar")
TAKEDOWN_LANGUAGES = ("fr", "en", "ar")


@dataclass(frozen=True)
class PacketFile:
    path: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Dossier:
    """Everything the documents of one packet show; nothing internal to this host."""

    reference: str
    created_at: datetime
    unit: UnitIdentity
    police: Partner
    prosecutor: Partner
    court: Court | None
    rule: Rule | None
    qualification: Qualification
    facts: CaseFacts
    territory: Territory | None
    identity_included: bool
    signer_fingerprint: str
    recipients: tuple[str, ...] = ()
    documents: tuple[PacketFile, ...] = field(default=())


@dataclass(frozen=True)
class Takedown:
    reference: str
    created_at: datetime
    unit: UnitIdentity
    platform: str
    language: str
    urls: tuple[str, ...]
    qualification: Qualification
    statement: str
    category: str | None


def fetch_local_only() -> URLFetcher:
    """A WeasyPrint fetcher that refuses every scheme but ``file`` and ``data``."""
    return URLFetcher(allowed_protocols={"file", "data"}, allow_redirects=False)


def render_pdf(html: str) -> bytes:
    document: bytes = HTML(string=html, url_fetcher=fetch_local_only(), base_url=None).write_pdf()
    return document


def dossier_pdf(dossier: Dossier, language: str) -> bytes:
    """The dossier in ``language`` (fr or ar)."""
    return render_pdf(_render("referral/pdf/dossier.html", language, dossier=dossier))


def notice_pdf(dossier: Dossier) -> bytes:
    """The prosecutor notice: one page in French, then one in Arabic."""
    sections = [
        _render("referral/pdf/notice.html", language, dossier=dossier) for language in PDF_LANGUAGES
    ]
    return render_pdf(_join(sections))


def takedown_pdf(notice: Takedown) -> bytes:
    """The takedown notice in the platform's language."""
    return render_pdf(_render("referral/pdf/takedown.html", notice.language, notice=notice))


def _render(template: str, language: str, **context: object) -> str:
    with _app_context(), force_locale(language):
        return render_template(
            template,
            language=language,
            direction="rtl" if language == "ar" else "ltr",
            clean=clean_text,
            category_label=category_label,
            **context,
        )


def _join(sections: list[str]) -> str:
    """Several rendered documents as one: each keeps its language and direction."""
    bodies = [s.split("<body", 1)[1].split(">", 1)[1].rsplit("</body>", 1)[0] for s in sections]
    head = sections[0].split("<body", 1)[0]
    return head + "<body>" + '<div class="page-break"></div>'.join(bodies) + "</body></html>"


@contextlib.contextmanager
def _app_context() -> Iterator[None]:
    if has_app_context():
        yield
        return
    with _standalone_app().app_context():
        yield


@functools.cache
def _standalone_app() -> Flask:
    """The officer app's templates and catalogs without its routes (the CLI renders here)."""
    from journalist_app.i18n import init_i18n

    app = Flask("journalist_app")
    app.config.update(BABEL_DEFAULT_LOCALE="fr", BABEL_DEFAULT_TIMEZONE="UTC")
    init_i18n(app)
    return app
