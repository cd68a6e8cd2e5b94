"""The identified reporter's details, checked and put in one standard form each.

People type these on phones in several scripts: Arabic-Indic digits, spaces and dashes
between groups, a national number without the country code. Each function returns
the standard form or raises :class:`InvalidDetail`; none of them ever sees a report.
"""

import re
import unicodedata
from typing import Final

MAX_NAME_CHARS: Final = 200
MAX_CITY_CHARS: Final = 100
MAX_EMAIL_CHARS: Final = 254
MOROCCO: Final = "212"

_DIGITS: Final = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９", "0123456789" * 3)
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.()/\u200e\u200f\u061c]")
# Carte nationale d'identité (CNIE): one or two letters, then digits.
_NATIONAL_ID = re.compile(r"^[A-Z]{1,2}[0-9]{1,7}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]{1,64}$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class InvalidDetail(ValueError):
    """The value is not a valid detail of its kind."""


def ascii_digits(text: str) -> str:
    """Arabic-Indic, Eastern Arabic-Indic and full-width digits as ASCII digits."""
    return text.translate(_DIGITS)


def normalise_full_name(text: str) -> str:
    """A name: collapsed spaces, some letter in it, nothing invisible."""
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if len(name) > MAX_NAME_CHARS or _has_control(name):
        raise InvalidDetail("name")
    if not any(c.isalpha() for c in name):
        raise InvalidDetail("name")
    return name


def normalise_national_id(text: str) -> str:
    """A Moroccan national ID number (CIN/CNIE), e.g. ``AB123456``: upper case, no spaces."""
    value = _SEPARATORS.sub("", ascii_digits(unicodedata.normalize("NFKC", text))).upper()
    if not _NATIONAL_ID.match(value):
        raise InvalidDetail("national_id")
    return value


def normalise_phone(text: str) -> str:
    """A phone number in E.164 form (``+212612345678``).

    Moroccan numbers may be typed nationally (``06 12 34 56 78``), with ``00212`` or
    ``+212``, even with the trunk zero kept (``+212 06…``). Other countries need their
    code, with ``+`` or ``00``.
    """
    value = _SEPARATORS.sub("", ascii_digits(unicodedata.normalize("NFKC", text)))
    if value.startswith("00"):
        value = "+" + value[2:]
    elif value.startswith("0") and len(value) == 10:
        value = f"+{MOROCCO}{value[1:]}"
    elif value.startswith(MOROCCO) and len(value) in (12, 13):
        value = "+" + value
    if value.startswith(f"+{MOROCCO}0"):
        value = f"+{MOROCCO}{value[5:]}"
    if not _E164.match(value):
        raise InvalidDetail("phone")
    if value.startswith(f"+{MOROCCO}") and not re.match(r"^\+212[5-8][0-9]{8}$", value):
        raise InvalidDetail("phone")
    return value


def normalise_email(text: str) -> str:
    """An e-mail address with its domain lowercased and in ASCII (IDNA)."""
    value = unicodedata.normalize("NFC", text.strip())
    local, at, domain = value.rpartition("@")
    if not at or len(value) > MAX_EMAIL_CHARS or not _EMAIL_LOCAL.match(local):
        raise InvalidDetail("email")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidDetail("email")
    try:
        domain = domain.lower().rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidDetail("email") from exc
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise InvalidDetail("email")
    if labels[-1].isdigit():
        raise InvalidDetail("email")
    return f"{local}@{domain}"


def normalise_city(text: str) -> str:
    """A city or town name, as typed, in any script."""
    city = " ".join(unicodedata.normalize("NFC", text).split())
    if len(city) > MAX_CITY_CHARS or _has_control(city) or not any(c.isalpha() for c in city):
        raise InvalidDetail("city")
    return city


def _has_control(text: str) -> bool:
    """Control, private-use and format characters (direction overrides), but not the
    zero-width (non-)joiners some scripts need."""
    return any(
        unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") and c not in "\u200c\u200d"
        for c in text
    )
