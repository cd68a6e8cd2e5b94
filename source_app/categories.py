"""The report categories (DESIGN.md): ids on the wire, translated labels on the page."""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


@dataclass(frozen=True)
class Category:
    """A category id, its label and one plain sentence with examples."""

    id: str
    label: LazyString
    explanation: LazyString
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
