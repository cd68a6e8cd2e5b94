"""Languages of the officer app: Arabic (right to left), French (default), English, Spanish."""

from typing import Any

from flask import Flask, request, session
from flask_babel import Babel, get_locale

from journalist_app.catalogs import CompiledDomain, compile_catalogs

LANGUAGES = ("ar", "fr", "en", "es")
DEFAULT_LANGUAGE = "fr"
RIGHT_TO_LEFT = frozenset({"ar"})
# Each language named in itself, so anyone can find theirs.
AUTONYMS = {"ar": "العربية", "fr": "Français", "en": "English", "es": "Español"}
LANGUAGE_SESSION_KEY = "lang"


def select_locale() -> str:
    """``?lang=`` (remembered for the session), then the session, then Accept-Language."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session[LANGUAGE_SESSION_KEY] = asked
        return asked
    remembered = session.get(LANGUAGE_SESSION_KEY)
    if remembered in LANGUAGES:
        return str(remembered)
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def _template_context() -> dict[str, Any]:
    language = current_language()
    return {
        "language": language,
        "direction": "rtl" if language in RIGHT_TO_LEFT else "ltr",
        "languages": [(code, AUTONYMS[code]) for code in LANGUAGES],
    }


def init_i18n(app: Flask) -> None:
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = CompiledDomain(compile_catalogs())
    app.context_processor(_template_context)
