"""Addresses of reported content, taken as people paste them and made into clean URLs.

People copy links from apps, chats and address bars: without a scheme (``t.me/x``),
with the sentence's full stop or a closing bracket stuck to them, inside quotes or
angle brackets, "defanged" (``hxxps://evil[.]example``), with an Arabic comma, or with
a host in capitals or in Arabic script. :func:`normalise_url` accepts all of that and
returns an ``http(s)`` URL that :func:`urllib.parse.urlsplit` parses, with the host
lowercased and in its ASCII (punycode) form so officers see no look-alike letters.
It is idempotent: a normalised URL normalises to itself. What cannot be a web address
raises :class:`InvalidUrl` with a reason the form can translate.
"""

import ipaddress
import re
import unicodedata
from enum import Enum
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

MAX_URL_LENGTH: Final = 2048
MAX_URLS: Final = 10

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_DEFANGED_SCHEME = re.compile(r"^h[xX]{2}p(s?)(?=:)", re.IGNORECASE)
_ONION_LABEL = re.compile(r"^([a-z2-7]{16}|[a-z2-7]{56})$")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# Characters a URL may carry as they are; everything else is percent-encoded. "%" is
# kept so that existing escapes survive (idempotence).
_SAFE_PATH: Final = "/:@!$&'()*+,;=-._~%"
_SAFE_QUERY: Final = _SAFE_PATH + "?"
# Stuck to the end of a link by the sentence around it.
_TRAILING: Final = ".,;:!?'\"»›”’)]}>،؛؟۔…"
_OPENERS: Final = {
    "<": ">", "(": ")", "[": "]", "{": "}", '"': '"', "'": "'",
    "«": "»", "“": "”", "‘": "’", "‹": "›",
}  # fmt: skip
_BRACKETS: Final = {")": "(", "]": "[", "}": "{"}
# Invisible characters that ride along with copied text.
_INVISIBLE: Final = frozenset("\u200b\u200c\u200d\u200e\u200f\u2060\ufeff\u061c\u00ad")


class UrlProblem(Enum):
    """Why a piece of text is not a web address; the form maps each to a sentence."""

    EMPTY = "empty"
    TOO_LONG = "too_long"
    NOT_WEB = "not_web"
    NO_HOST = "no_host"
    BAD_HOST = "bad_host"
    BAD_PORT = "bad_port"
    CONTROL = "control"


class InvalidUrl(ValueError):
    """The text cannot be made into a web address."""

    def __init__(self, problem: UrlProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def split_pasted_urls(text: str) -> list[str]:
    """The candidate addresses in a pasted block: one per line or separated by spaces."""
    return [token for token in text.split() if token.strip("".join(_INVISIBLE))]


def normalise_url(text: str) -> str:
    """One pasted address as a clean ``http(s)`` URL, or :class:`InvalidUrl`."""
    # Rebuilding can expose more to clean (an empty "#" dropped after a full stop):
    # repeat until stable, which is what makes the function idempotent.
    result = _normalise_once(text)
    for _ in range(8):
        again = _normalise_once(result)
        if again == result:
            return result
        result = again
    raise InvalidUrl(UrlProblem.BAD_HOST)


def _normalise_once(text: str) -> str:
    candidate = _clean(text)
    if not candidate:
        raise InvalidUrl(UrlProblem.EMPTY)
    if len(candidate) > MAX_URL_LENGTH:
        raise InvalidUrl(UrlProblem.TOO_LONG)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in candidate):
        raise InvalidUrl(UrlProblem.CONTROL)
    scheme_match = _SCHEME.match(candidate)
    if scheme_match and not _looks_like_host_and_port(candidate):
        scheme = scheme_match.group(1).lower()
        if scheme not in ("http", "https"):
            raise InvalidUrl(UrlProblem.NOT_WEB)
        rest = candidate[scheme_match.end() :]
        if not rest.startswith("//"):
            rest = "//" + rest.lstrip("/\\")
    else:
        scheme, rest = "", "//" + candidate.lstrip("/\\")
    try:
        parts = urlsplit(f"{scheme or 'https'}:{rest.replace(chr(92), '/')}")
        hostname = parts.hostname or ""
    except ValueError as exc:  # an unclosed "[" of an IPv6 address
        raise InvalidUrl(UrlProblem.BAD_HOST) from exc
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(UrlProblem.BAD_PORT) from exc
    if not hostname:
        raise InvalidUrl(UrlProblem.NO_HOST)
    host = _normalise_host(hostname)
    if not scheme:
        scheme = "http" if host.endswith(".onion") else "https"
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    if userinfo:
        netloc = f"{quote(userinfo, safe=_SAFE_PATH)}@{netloc}"
    result: str = urlunsplit(
        (
            scheme,
            netloc,
            quote(parts.path, safe=_SAFE_PATH),
            quote(parts.query, safe=_SAFE_QUERY),
            quote(parts.fragment, safe=_SAFE_QUERY + "#"),
        )
    )
    if len(result) > MAX_URL_LENGTH:
        raise InvalidUrl(UrlProblem.TOO_LONG)
    return result


def _clean(text: str) -> str:
    """Undo decoration and defanging until nothing changes (so the result is stable)."""
    previous, value = None, text
    while value != previous:
        previous = value
        value = _strip_decoration(value)
        value = _DEFANGED_SCHEME.sub(lambda m: "http" + m.group(1), value)
        value = value.replace("[.]", ".").replace("(.)", ".").replace("[:]", ":")
    return value


def _strip_decoration(text: str) -> str:
    """Remove what surrounds a link in a sentence: spaces, quotes, brackets, punctuation."""
    value = "".join(c for c in text if c not in _INVISIBLE).strip()
    changed = True
    while changed and value:
        changed = False
        for opening, closing in _OPENERS.items():
            if len(value) >= 2 and value[0] == opening and value[-1] == closing:
                value, changed = value[1:-1].strip(), True
        if value and value[-1] in _TRAILING and not _is_balanced_bracket(value):
            value, changed = value[:-1].rstrip(), True
        if value and value[0] in _OPENERS and _OPENERS[value[0]] not in value:
            value, changed = value[1:].lstrip(), True
    return value


def _is_balanced_bracket(value: str) -> bool:
    """A closing bracket that closes one opened inside the link (Wikipedia-style) stays."""
    opening = _BRACKETS.get(value[-1])
    return opening is not None and value.count(opening) >= value.count(value[-1])


def _looks_like_host_and_port(candidate: str) -> bool:
    """``example.com:8080/x`` has a colon but no scheme."""
    head, _, tail = candidate.partition(":")
    return "." in head and bool(re.match(r"^[0-9]{1,5}(?:[/?#]|$)", tail))


def _normalise_host(hostname: str) -> str:
    """Lowercase, ASCII (IDNA), and shaped like a domain, an onion or an IP address."""
    host = unicodedata.normalize("NFKC", hostname).lower().rstrip(".")
    host = host.replace("\u3002", ".").replace("\uff0e", ".").replace("\uff61", ".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return address.compressed
    try:
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
        # Punycode labels must decode, or the host is not what it claims to be.
        host.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise InvalidUrl(UrlProblem.BAD_HOST) from exc
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(x) for x in labels):
        raise InvalidUrl(UrlProblem.BAD_HOST)
    if labels[-1] == "onion":
        if not _ONION_LABEL.match(labels[-2]):
            raise InvalidUrl(UrlProblem.BAD_HOST)
    elif labels[-1].isdigit() or "_" in labels[-1] or len(labels[-1]) < 2:
        # A dotted number that is not an IP address, or a made-up top-level domain.
        raise InvalidUrl(UrlProblem.BAD_HOST)
    return host
