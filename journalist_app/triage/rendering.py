"""Showing what reporters wrote without letting it act: text stays text, links stay text.

A report is untrusted input on the officer's screen (anyone can seal one to the unit).
Its text goes through bleach with no tag, no attribute and no protocol allowed and
without linkify, so markup, event handlers, ``javascript:`` addresses and CSS arrive as
visible characters. Characters that would reorder the display (bidi embeddings,
overrides and isolates, e.g. RLO turning ``gpj.exe`` into ``exe.jpg``) and other control
characters are replaced by a visible marker naming them: the officer sees that they are
there, and they change nothing. Arabic, French and mixed text keep their natural
direction (``dir="auto"`` per paragraph in the template).

Addresses are never links: the officer copies them from a read-only field into the
isolated analysis browser, with a warning, and is told when an address is not a web
address, hides characters, or uses non-Latin letters in its host (look-alikes).
"""

import html
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import bleach
from markupsafe import Markup

from journalist_app.triage.urls import refang

# Direction controls: shown, never obeyed.
BIDI_CONTROLS: dict[str, str] = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
# Harmless in prose (Arabic keyboards type them), suspicious in an address.
DIRECTION_MARKS: dict[str, str] = {"\u200e": "LRM", "\u200f": "RLM", "\u061c": "ALM"}
INVISIBLES: dict[str, str] = {
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u00ad": "SHY",
}
# Lone surrogates (valid in JSON, not in UTF-8) are markers too: they would break the page.
_TEXT_CONTROLS = re.compile(
    "([\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff])"
)
_URL_HIDDEN = re.compile(
    "([\u202a-\u202e\u2066-\u2069\u200b-\u200f\u061c\u2060\ufeff\u00ad"
    "\x00-\x1f\x7f-\x9f\ud800-\udfff])"
)
WEB_SCHEMES = frozenset({"http", "https"})


def _name(char: str) -> str:
    known = BIDI_CONTROLS.get(char) or DIRECTION_MARKS.get(char) or INVISIBLES.get(char)
    code = f"U+{ord(char):04X}"
    return f"{code} {known}" if known else code


def _percent(char: str) -> str:
    try:
        return quote(char, safe="")
    except UnicodeEncodeError:  # a lone surrogate: U+FFFD, as a browser would send
        return "%EF%BF%BD"


def _marker(char: str) -> str:
    title = html.escape(unicodedata.name(char, _name(char)))
    return f'<span class="control-char" dir="ltr" title="{title}">[{_name(char)}]</span>'


def _inert(text: str) -> str:
    # Escape first: bleach keeps character references as they are, so a reporter's
    # "&lt;" would otherwise be shown as "<". Then bleach with nothing allowed, so
    # that no element can ever come out of here.
    return str(
        bleach.clean(
            html.escape(text, quote=True),
            tags=set(),
            attributes={},
            protocols=set(),
            strip=False,
            strip_comments=True,
        )
    )


def _render(text: str, controls: re.Pattern[str]) -> Markup:
    # Split around the controls before cleaning: bleach would turn them into "?".
    pieces = controls.split(text)
    shown = [_marker(piece) if index % 2 else _inert(piece) for index, piece in enumerate(pieces)]
    return Markup("".join(shown))  # noqa: S704 (every piece escaped or ours)


def clean_text(text: str) -> Markup:
    """Reporter's text as inert HTML: every character visible, nothing interpreted."""
    return _render(text, _TEXT_CONTROLS)


@dataclass(frozen=True)
class ShownAddress:
    """An address as the case page shows it."""

    raw: str
    # Safe to copy: hidden characters percent-encoded, as a browser would send them.
    copy_text: str
    # For reading: hidden characters replaced by visible markers.
    marked: Markup
    scheme: str
    hides_characters: bool
    # The host's ASCII (punycode) form when it is written with non-ASCII letters.
    ascii_host: str | None

    @property
    def is_web(self) -> bool:
        return self.scheme in WEB_SCHEMES


def show_address(raw: str) -> ShownAddress:
    hides = bool(_URL_HIDDEN.search(raw.strip()))
    copy_text = _URL_HIDDEN.sub(lambda m: _percent(m.group(0)), raw.strip())
    marked = _render(raw, _URL_HIDDEN)
    try:
        # A defanged address (hxxps://x[.]com) is a web address written safely: judge it
        # refanged, and keep the defanged text in the field to copy.
        parts = urlsplit(refang(copy_text))
        scheme, host = parts.scheme.lower(), parts.hostname or ""
    except ValueError:
        scheme, host = "", ""
    ascii_host = None
    if host and not host.isascii():
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_host = quote(host, safe=".")
    return ShownAddress(
        raw=raw,
        copy_text=copy_text,
        marked=marked,
        scheme=scheme,
        hides_characters=hides,
        ascii_host=ascii_host,
    )
