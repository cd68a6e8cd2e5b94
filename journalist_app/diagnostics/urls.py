"""What an officer needs to know about a reported address, worked out offline.

Canonical form (triage/urls.py, the grouping key), platform and account handle,
known URL shorteners (flagged, never followed), the host in Unicode and punycode with
a mixed-script warning, whether the reporter's text was defanged, and the registrable
domain from tldextract's bundled public-suffix snapshot (no fetch: ``suffix_list_urls``
is empty and there is no cache directory).
"""

import contextlib
import functools
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import tldextract

from journalist_app.triage.urls import normalise_url, refang

SHORTENERS = frozenset(
    {
        "bit.ly", "bitly.com", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly",
        "cutt.ly", "rebrand.ly", "shorturl.at", "t.ly", "rb.gy", "tiny.cc", "s.id", "lnkd.in",
        "fb.me", "vm.tiktok.com", "vt.tiktok.com", "youtu.be", "trib.al", "dlvr.it", "bl.ink",
        "shorte.st", "adf.ly", "v.gd", "qr.ae", "amzn.to", "wa.me", "g.co", "pin.it",
    }
)  # fmt: skip

# Host (after www./m. are dropped) → platform, and how a handle sits in the path.
PLATFORMS = {
    "tiktok.com": "tiktok",
    "vm.tiktok.com": "tiktok",
    "vt.tiktok.com": "tiktok",
    "instagram.com": "instagram",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "x.com": "x",
    "twitter.com": "x",
    "youtube.com": "youtube",
    "youtu.be": "youtube",
    "t.me": "telegram",
    "telegram.me": "telegram",
    "snapchat.com": "snapchat",
    "threads.net": "threads",
    "reddit.com": "reddit",
    "linkedin.com": "linkedin",
    "wa.me": "whatsapp",
}
# Names officers and reporters type for a platform.
PLATFORM_ALIASES = {
    "twitter": "x", "x": "x", "tiktok": "tiktok", "tik tok": "tiktok", "instagram": "instagram",
    "insta": "instagram", "ig": "instagram", "facebook": "facebook", "fb": "facebook",
    "youtube": "youtube", "yt": "youtube", "telegram": "telegram", "snapchat": "snapchat",
    "threads": "threads", "reddit": "reddit", "linkedin": "linkedin", "whatsapp": "whatsapp",
}  # fmt: skip
# First path segments that are pages of the platform, not accounts.
_NOT_HANDLES = frozenset(
    {
        "watch", "video", "videos", "p", "reel", "reels", "stories", "status", "share",
        "search", "explore", "hashtag", "tag", "i", "home", "login", "groups", "events",
        "pages", "permalink.php", "profile.php", "shorts", "channel", "c", "user", "s",
        "joinchat", "embed", "r", "in", "intent", "settings",
    }
)  # fmt: skip
_HANDLE = re.compile(r"@?([A-Za-z0-9_.\-]{1,64})")


@dataclass(frozen=True)
class UrlDiagnosis:
    raw: str
    canonical: str | None
    refanged: bool
    platform: str | None
    handle: str | None
    shortener: bool
    host_unicode: str
    host_punycode: str
    scripts: tuple[str, ...]
    registrable_domain: str
    public_suffix: str

    @property
    def is_idn(self) -> bool:
        return self.host_unicode != self.host_punycode

    @property
    def mixed_scripts(self) -> bool:
        """Letters of several scripts in one label of the host: a look-alike warning."""
        return any(len(_scripts(label)) > 1 for label in self.host_unicode.split("."))

    @property
    def account(self) -> str | None:
        """``platform:handle``, the key two reports of one account share."""
        return account_key(self.platform, self.handle)


@functools.cache
def _extractor() -> tldextract.TLDExtract:
    # The bundled snapshot only: no list URL to fetch, no cache written to disk.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def account_key(platform: str | None, handle: str | None) -> str | None:
    if not platform or not handle:
        return None
    return f"{platform}:{handle.lstrip('@').lower()}"


def platform_of(text: str) -> str | None:
    """The platform a reporter or an officer named (``"TikTok"``, ``"twitter"``) or None."""
    name = " ".join(text.lower().split())
    return PLATFORM_ALIASES.get(name)


def parse_handle(text: str, platform: str | None = None) -> str | None:
    """``@user`` or ``user`` → ``platform:user`` (None without a platform)."""
    match = _HANDLE.fullmatch(text.strip())
    if match is None:
        return None
    return account_key(platform, match.group(1))


def account_of_url(raw: str) -> tuple[str | None, str | None]:
    """(platform, ``platform:handle``) an address names, cheaply (ingest, search)."""
    text = refang(raw).strip()
    if "://" not in text:
        text = "http://" + text
    try:
        hostname = (urlsplit(text).hostname or "").rstrip(".")
    except ValueError:
        return None, None
    _, host_punycode = _host_forms(hostname)
    bare = _bare(host_punycode)
    platform = PLATFORMS.get(bare)
    if platform is None:
        return None, None
    return platform, account_key(platform, _handle(platform, bare, text))


def diagnose_url(raw: str) -> UrlDiagnosis:
    """Everything shown in a case's diagnostics panel for one address. Never fetches."""
    fanged = refang(raw)
    canonical = normalise_url(fanged)
    text = fanged.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        hostname = (urlsplit(text).hostname or "").rstrip(".")
    except ValueError:
        hostname = ""
    host_unicode, host_punycode = _host_forms(hostname)
    bare = _bare(host_punycode)
    platform = PLATFORMS.get(bare) or PLATFORMS.get(_bare(host_unicode))
    handle = _handle(platform, bare, text) if platform else None
    extracted = _extractor()(host_punycode) if host_punycode else None
    return UrlDiagnosis(
        raw=raw,
        canonical=canonical,
        refanged=fanged != raw,
        platform=platform,
        handle=handle,
        shortener=bare in SHORTENERS or host_punycode in SHORTENERS,
        host_unicode=host_unicode,
        host_punycode=host_punycode,
        scripts=_scripts(host_unicode),
        registrable_domain=extracted.top_domain_under_public_suffix if extracted else "",
        public_suffix=extracted.suffix if extracted else "",
    )


def _host_forms(hostname: str) -> tuple[str, str]:
    unicode_form = punycode = hostname.lower()
    with contextlib.suppress(UnicodeError):
        punycode = unicode_form.encode("idna").decode("ascii")
    with contextlib.suppress(UnicodeError):
        unicode_form = punycode.encode("ascii").decode("idna")
    return unicode_form, punycode


def _bare(host: str) -> str:
    for prefix in ("www.", "m.", "mobile.", "web."):
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def _handle(platform: str, host: str, text: str) -> str | None:
    if host in SHORTENERS:
        return None  # behind the short link: resolve it outside this host
    try:
        segments = [s for s in urlsplit(text).path.split("/") if s]
    except ValueError:
        return None
    if not segments:
        return None
    first = segments[0]
    if platform in ("tiktok", "youtube", "threads") and not first.startswith("@"):
        return None
    if platform == "reddit" and first == "user" and len(segments) > 1:
        first = segments[1]
    elif first.lower() in _NOT_HANDLES:
        return None
    match = _HANDLE.fullmatch(first)
    return match.group(1).lstrip("@").lower() if match else None


def _scripts(host: str) -> tuple[str, ...]:
    """Scripts of the letters of the host's registrable labels (digits and '-' aside)."""
    found: list[str] = []
    for char in host:
        if not char.isalpha():
            continue
        try:
            script = unicodedata.name(char).split()[0]
        except ValueError:
            script = "UNKNOWN"
        if script not in found:
            found.append(script)
    return tuple(found)
