"""The report categories (docs/categories.md): ids on the wire, translated labels on the page.

The built-in set below is translated through the catalogs; a unit may replace it with
its own, in every language, named by ``IBLAGH_CATEGORIES_FILE`` (docs/categories.md).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flask import has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# The file's format and its one loader live in crypto/categories.py, shared with the
# officer host, which reads the same file; these names stay importable from here.
from crypto.categories import PRIORITY_NAMES as PRIORITY_NAMES
from crypto.categories import REQUIRED_LANGUAGES as REQUIRED_LANGUAGES
from crypto.categories import load_category_specs
from crypto.errors import CategoriesFileError as CategoriesFileError

# Categories whose images must never be screenshot, downloaded or forwarded, not even to
# report them (as hotlines advise): the form says "give the link only" beside them.
NO_SCREENSHOT_CATEGORIES = frozenset({"child_abuse"})


@dataclass(frozen=True)
class Category:
    """A category id, its label and one plain sentence with examples."""

    id: str
    label: "LazyString | Localised"
    explanation: "LazyString | Localised"
    urgent: bool = False


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category(
        "child_abuse",
        _l("Child sexual abuse or exploitation"),
        _l("Images, videos or messages that sexualise or exploit children, or grooming."),
        urgent=True,
    ),
    Category(
        "terrorism",
        _l("Terrorism"),
        _l("Glorification of or incitement to terrorism, propaganda, recruitment."),
        urgent=True,
    ),
    Category(
        "threat_to_life",
        _l("Imminent threat to life"),
        _l("Someone announces they will kill or hurt someone, or themselves, soon."),
        urgent=True,
    ),
    Category(
        "sextortion",
        _l("Sextortion and intimate images shared without consent"),
        _l("Threats to publish intimate images, or such images published."),
    ),
    Category(
        "incitement",
        _l("Incitement to violence or crime, threats"),
        _l("Calls to attack people or groups, threats against a person."),
    ),
    Category(
        "hate",
        _l("Hate and discrimination"),
        _l("Content that attacks people for their origin, religion, sex or disability."),
    ),
    Category(
        "fraud",
        _l("Fraud, scams and extortion"),
        _l("Fake shops, phishing, investment scams, blackmail for money."),
    ),
    Category(
        "illicit_trade",
        _l("Illicit trade"),
        _l("Sale of drugs, counterfeit medicines, weapons or human organs."),
    ),
    Category(
        "endangering",
        _l("Endangering others"),
        _l("Dangerous challenges, instructions to harm, content that puts people at risk."),
    ),
    Category(
        "other",
        _l("Other criminal content"),
        _l("Anything else you believe breaks the law."),
    ),
)

CATEGORY_IDS = frozenset(category.id for category in DEFAULT_CATEGORIES)


@dataclass(frozen=True)
class Localised:
    """Configured text in every language, shown in the page's language."""

    texts: Mapping[str, str]

    def __str__(self) -> str:
        locale = get_locale() if has_request_context() else None
        language = locale.language if locale is not None else REQUIRED_LANGUAGES[0]
        return self.texts.get(language) or self.texts[REQUIRED_LANGUAGES[0]]


def load_categories(path: Path) -> tuple[Category, ...]:
    """Read and check a categories file; any problem raises :class:`CategoriesFileError`."""
    return tuple(
        Category(
            spec.id,
            Localised(spec.labels),
            Localised(spec.explanations),
            urgent=spec.urgent,
        )
        for spec in load_category_specs(path)
    )
