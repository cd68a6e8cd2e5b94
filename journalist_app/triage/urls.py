"""Normalising reported addresses so that two reports of the same content meet.

The key is what two officers would call "the same address": no scheme (http and https
alike), host in lower case and IDNA form without ``www.``/``m.``, no default port, no
user info, dot segments resolved, no trailing slash, query parameters sorted and
tracking ones dropped, fragment dropped unless it routes (``#!`` or ``#/``). It is a
grouping key, never a link: nothing here is fetched.
"""

import contextlib
import hashlib
import posixpath
import re
import unicodedata
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

MAX_URL_CHARS = 2048
# A report may list many addresses; only so many take part in grouping.
MAX_INDEXED_URLS = 50
_SCHEMES = {"http": 80, "https": 443}
_HOST_PREFIXES = ("www.", "m.", "mobile.")
_HOST_ALIASES = {"twitter.com": "x.com", "youtu.be": "youtube.com", "fb.com": "facebook.com"}
_TRACKING = re.compile(
    r"utm_[a-z_]+|fbclid|gclid|dclid|msclkid|igshid|igsh|mc_cid|mc_eid|si|ref_src|_ga|yclid"
)
_LOOKS_LIKE_HOST = re.compile(r"[^\s/:?#]+\.[^\s/:?#]{2,}([/:?#].*)?")
# Invisible characters never belong in an address key (bidi controls, zero width).
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u061c]")
_SAFE_PATH = "/:@!$&'()*+,;=-._~"


# Defanged forms threat reports and reporters use: hxxp://, example[.]com, [:]//, (dot).
_DEFANGS = (
    (re.compile(r"^\s*h(?:xx|\*\*|XX)p(s?)(\[?:\]?)//", re.I), r"http\1://"),
    (re.compile(r"\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}", re.I), "."),
    (re.compile(r"\[:\]|\[://\]"), lambda m: m.group(0).strip("[]")),
)


def refang(raw: str) -> str:
    """``hxxps://example[.]com`` → ``https://example.com``; other text unchanged."""
    text = raw
    for pattern, replacement in _DEFANGS:
        text = pattern.sub(replacement, text)
    return text


def normalise_url(raw: str) -> str | None:
    """The grouping key of ``raw`` (defanged forms refanged first), or ``None`` when it
    is not a web address."""
    try:
        return _normalise(refang(raw))
    except (ValueError, UnicodeError):
        # Lone surrogates, impossible ports, hosts IDNA refuses: not an address to group.
        return None


def _normalise(raw: str) -> str | None:
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", raw)).strip()
    text.encode("utf-8")
    if not text or len(text) > MAX_URL_CHARS:
        return None
    if "://" not in text and _LOOKS_LIKE_HOST.fullmatch(text):
        text = "http://" + text
    parts = urlsplit(text)
    port = parts.port
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        return None
    host = _host(parts.hostname or "")
    if host is None:
        return None
    if port is not None and port != _SCHEMES[scheme]:
        host = f"{host}:{port}"
    path = _path(parts.path)
    query = _query(parts.query)
    if host == "youtube.com" and parts.hostname and parts.hostname.endswith("youtu.be"):
        # youtu.be/ID is youtube.com/watch?v=ID
        video = path.strip("/")
        path, query = "/watch", urlencode([("v", video)]) if video else query
    fragment = parts.fragment if parts.fragment.startswith(("!", "/")) else ""
    key = host + path + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")
    return key


def url_hash(key: str) -> str:
    """Fixed-length index value for a normalised address."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _host(hostname: str) -> str | None:
    host = hostname.lower().rstrip(".")
    if not host:
        return None
    if ":" in host:
        return f"[{host}]"
    # Not valid IDNA 2003: keep the Unicode form, still usable as a key.
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    for prefix in _HOST_PREFIXES:
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
            break
    return _HOST_ALIASES.get(host, host)


def _path(raw: str) -> str:
    # Decode then re-encode: %7E and ~, %41 and A become one form; case of escapes too.
    path = posixpath.normpath("/" + unquote(raw).lstrip("/"))
    path = "/" + path.lstrip("/").rstrip("/")
    return quote(path, safe=_SAFE_PATH)


def _query(raw: str) -> str:
    pairs = [
        (name, value)
        for name, value in parse_qsl(raw, keep_blank_values=True)
        if not _TRACKING.fullmatch(name.lower())
    ]
    return urlencode(sorted(pairs), quote_via=quote)
