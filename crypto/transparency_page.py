"""What a published transparency page may be (docs/sync-api.md, transparency pages).

The public host serves the unit's quarterly report as static files, without JavaScript
(docs/invariants.md, 3). It takes them only from the officer host, over the signed sync
API, and still checks each one before writing it: a page is the officer host's own
render, but whoever holds a sync key (the connected machine of an air-gapped unit does)
could send another. Both hosts call :func:`check_page`: the officer host before it
queues a page, so that a template that grows a script fails there, and the public host
before it writes one.

HTML: UTF-8, a ``<!doctype html>`` document of plain text elements only (headings,
paragraphs, lists, tables, links), no script, no style, no form, no embedded object, no
event handler attribute, and links only to the other published pages by their names.
PDF: a ``%PDF-1.x`` file whose objects, read raw and through each Flate stream, name no
script, action on opening, launch, embedded file, form or other filter that could hide
one. A filter, not a proof: the public host also serves every page under its
``default-src 'none'`` policy.
"""

import re
import zlib
from html.parser import HTMLParser
from typing import Final

from crypto.errors import TransparencyPageError
from crypto.sync_api import MAX_TRANSPARENCY_PAGE_BYTES, is_transparency_name

# Elements of a static report; anything else (script, style, link, iframe, object,
# embed, form, img, svg, base…) refuses the page.
ALLOWED_ELEMENTS: Final = frozenset(
    "html head meta title body main header footer nav section h1 h2 h3 p dl dt dd "  # noqa: SIM905
    "table caption thead tbody tfoot tr th td ul ol li a span strong em abbr small br".split()
)
ALLOWED_ATTRIBUTES: Final = frozenset(
    "lang dir charset name content href hreflang type aria-label scope colspan rowspan".split()  # noqa: SIM905
)
_META_NAMES: Final = frozenset({"viewport", "description"})
# Names that make a PDF act (run a script, open something, submit, launch) or hide
# content from this check (filters other than Flate and DCT, encryption).
FORBIDDEN_PDF_NAMES: Final = frozenset(
    "JavaScript JS OpenAction AA Launch SubmitForm ImportData ResetForm GoToR GoToE "  # noqa: SIM905
    "EmbeddedFile EmbeddedFiles RichMedia XFA AcroForm Sound Movie Rendition "
    "ASCIIHexDecode AHx ASCII85Decode A85 LZWDecode LZW RunLengthDecode RL "
    "JBIG2Decode CCITTFaxDecode JPXDecode Crypt Encrypt".split()
)
_PDF_NAME: Final = re.compile(rb"/([^\s/<>\[\]()%{}]*)")
_PDF_HEX: Final = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM: Final = re.compile(rb"stream\r?\n")
# Decoding stops past this much output, a whole page together (a PDF that inflates
# further is refused rather than read).
_MAX_INFLATED_BYTES: Final = 16 * MAX_TRANSPARENCY_PAGE_BYTES
_MAX_FLATE_DEPTH: Final = 4


def check_page(name: str, content: bytes) -> None:
    """Refuse, with :class:`TransparencyPageError`, what may not be published as ``name``.

    Reasons: ``bad_name`` (not ``2026-Q3.ar.html`` and the like), ``too_large`` (above
    ``MAX_TRANSPARENCY_PAGE_BYTES``), ``not_a_page`` (not a UTF-8 HTML document or not a
    PDF), ``scripted`` (a script, event handler, ``javascript:`` link or PDF action),
    ``not_static`` (any other element, attribute or link a static page does not need).
    """
    if not is_transparency_name(name):
        raise TransparencyPageError("bad_name", "not a page name such as 2026-Q3.ar.html")
    if len(content) > MAX_TRANSPARENCY_PAGE_BYTES:
        raise TransparencyPageError(
            "too_large", f"a page is at most {MAX_TRANSPARENCY_PAGE_BYTES} bytes"
        )
    if name.endswith(".pdf"):
        _check_pdf(content)
    else:
        _check_html(content)


# --- HTML ----------------------------------------------------------------------------------


class _StaticHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.doctype = False
        self.started = False

    def handle_decl(self, decl: str) -> None:
        if self.started or self.doctype or decl.strip().lower() != "doctype html":
            raise TransparencyPageError("not_static", f"the declaration <!{decl}> is not allowed")
        self.doctype = True

    def unknown_decl(self, data: str) -> None:
        raise TransparencyPageError("not_static", "a CDATA section or unknown declaration")

    def handle_pi(self, data: str) -> None:
        raise TransparencyPageError("not_static", "a processing instruction")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.started = True
        if tag == "script":
            raise TransparencyPageError("scripted", "the page holds a <script> element")
        for attribute, value in attrs:
            if attribute.startswith("on"):
                raise TransparencyPageError("scripted", f"<{tag}> has the handler {attribute!r}")
            if "script:" in re.sub(r"\s", "", value or "").lower():
                raise TransparencyPageError("scripted", f"<{tag} {attribute}> runs a script")
        if tag not in ALLOWED_ELEMENTS:
            raise TransparencyPageError("not_static", f"the element <{tag}> is not allowed")
        for attribute, value in attrs:
            _check_attribute(tag, attribute, value or "", dict(attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.started = True


def _check_attribute(tag: str, attribute: str, value: str, attrs: dict[str, str | None]) -> None:
    if attribute.startswith("data-") and re.fullmatch(r"data-[a-z0-9-]+", attribute):
        return
    if attribute not in ALLOWED_ATTRIBUTES:
        raise TransparencyPageError("not_static", f"<{tag}> has the attribute {attribute!r}")
    if attribute == "href" and (tag != "a" or not is_transparency_name(value)):
        raise TransparencyPageError("not_static", "a link leads elsewhere than a page")
    if tag == "meta" and attribute == "name" and value not in _META_NAMES:
        raise TransparencyPageError("not_static", f"<meta name={value!r}> is not allowed")
    if tag == "meta" and attribute == "content" and "name" not in attrs:
        raise TransparencyPageError("not_static", "<meta content> without a name")


def _check_html(content: bytes) -> None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise TransparencyPageError("not_a_page", "the page is not UTF-8") from None
    parser = _StaticHtml()
    parser.feed(text.removeprefix("\ufeff"))
    parser.close()
    if not parser.doctype:
        raise TransparencyPageError("not_a_page", "the page does not start with <!doctype html>")


# --- PDF -----------------------------------------------------------------------------------


def _check_pdf(content: bytes) -> None:
    if not content.startswith(b"%PDF-1.") or b"%%EOF" not in content[-1024:]:
        raise TransparencyPageError("not_a_page", "the file is not a PDF")
    budget = [_MAX_INFLATED_BYTES]
    _check_pdf_names(content)
    for match in _STREAM.finditer(content):
        _check_stream(content[match.end() :], budget, _MAX_FLATE_DEPTH)


def _check_stream(data: bytes, budget: list[int], depth: int) -> None:
    """Names in a Flate stream (an object stream holds dictionaries), and in streams
    compressed more than once."""
    if depth == 0:
        return
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, budget[0] + 1)
    except zlib.error:
        return  # not Flate (an image): its bytes name nothing a reader acts on
    budget[0] -= len(inflated)
    if budget[0] < 0:
        raise TransparencyPageError("not_a_page", "the PDF's streams inflate too far")
    _check_pdf_names(inflated)
    _check_stream(inflated, budget, depth - 1)


def _check_pdf_names(data: bytes) -> None:
    for match in _PDF_NAME.finditer(data):
        raw = _PDF_HEX.sub(lambda hexed: bytes([int(hexed.group(1), 16)]), match.group(1))
        name = raw.decode("latin-1")
        if name in FORBIDDEN_PDF_NAMES:
            reason = "not_static" if name.endswith(("Decode", "Crypt", "Encrypt")) else "scripted"
            raise TransparencyPageError(reason, f"the PDF names /{name}")
