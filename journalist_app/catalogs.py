"""The officer app's translations, compiled from the ``.po`` catalogs in memory at start.

Nothing compiled is written into the source tree or needs a build step: a fresh clone
runs as it is, and the catalogs in ``translations/`` are the only source of truth.
"""

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask_babel import Domain, get_locale

CATALOGS = Path(__file__).parent / "translations"


@functools.cache
def compile_catalogs(folder: Path = CATALOGS) -> dict[str, Translations]:
    """Each language's catalog (``<lang>/LC_MESSAGES/messages.po``), compiled in memory once
    per process and shared, read-only, by every app the process builds."""
    compiled: dict[str, Translations] = {}
    for po_path in sorted(folder.glob("*/LC_MESSAGES/messages.po")):
        language = po_path.parts[-3]
        with po_path.open("rb") as source:
            catalog = read_po(source, locale=language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        compiled[language] = Translations(buffer)
    return compiled


class CompiledDomain(Domain):  # type: ignore[misc]
    """A Flask-Babel domain that serves catalogs compiled by :func:`compile_catalogs`."""

    def __init__(self, compiled: dict[str, Translations]) -> None:
        super().__init__()
        self._compiled = compiled

    def get_translations(self) -> Translations | NullTranslations:
        locale = get_locale()
        found = self._compiled.get(locale.language) if locale is not None else None
        return found if found is not None else NullTranslations()
