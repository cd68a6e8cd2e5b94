"""Addresses as people paste them: normalised, idempotent, and refused only when hopeless."""

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_app.urls import MAX_URL_LENGTH, InvalidUrl, UrlProblem, normalise_url, split_pasted_urls

ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion"


@pytest.mark.parametrize(
    ("pasted", "expected"),
    [
        ("t.me/channel/42", "https://t.me/channel/42"),
        ("https://t.me/channel/42.", "https://t.me/channel/42"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("EXAMPLE.COM/Path", "https://example.com/Path"),
        ("HTTP://Example.com", "http://example.com"),
        ("www.facebook.com/profile.php?id=1000،", "https://www.facebook.com/profile.php?id=1000"),
        ("<https://example.com/x>,", "https://example.com/x"),
        ("«t.me/abc»", "https://t.me/abc"),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("https://en.wikipedia.org/wiki/Foo_(bar)", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("hxxps://evil[.]example/p", "https://evil.example/p"),
        (ONION, f"http://{ONION}"),
        (f"https://{ONION}/x", f"https://{ONION}/x"),
        ("bücher.de/x y", "https://xn--bcher-kva.de/x%20y"),
        ("https://موقع.المغرب/صفحة", "https://xn--4gbrim.xn--mgbc0a9azcg/%D8%B5%D9%81%D8%AD%D8%A9"),
        ("ｅｘａｍｐｌｅ。ｃｏｍ", "https://example.com"),
        ("example.com:8080/x", "https://example.com:8080/x"),
        ("1.2.3.4/x", "https://1.2.3.4/x"),
        ("[::1]:80/x", "https://[::1]:80/x"),
        (
            "https://user:pw@Example.COM:443/p?q=1#frag",
            "https://user:pw@example.com:443/p?q=1#frag",
        ),
        ("youtu.be/dQw4w9WgXcQ\u200f", "https://youtu.be/dQw4w9WgXcQ"),
        ("https://x.com/a%20b", "https://x.com/a%20b"),
    ],
)
def test_pasted_addresses_are_normalised(pasted: str, expected: str) -> None:
    assert normalise_url(pasted) == expected


@pytest.mark.parametrize(
    ("pasted", "problem"),
    [
        ("", UrlProblem.EMPTY),
        ("   ", UrlProblem.EMPTY),
        ("javascript:alert(1)", UrlProblem.NOT_WEB),
        ("mailto:someone@example.com", UrlProblem.NOT_WEB),
        ("ftp://example.com/file", UrlProblem.NOT_WEB),
        ("https://", UrlProblem.NO_HOST),
        ("hello", UrlProblem.BAD_HOST),
        ("foo.123", UrlProblem.BAD_HOST),
        ("https://xn--zz.com", UrlProblem.BAD_HOST),
        ("http://[::1", UrlProblem.BAD_HOST),
        ("abc.onion", UrlProblem.BAD_HOST),
        ("http://a.com:99999", UrlProblem.BAD_PORT),
        ("https://exa\x00mple.com", UrlProblem.CONTROL),
        ("https://example.com/\u202egpj.exe", UrlProblem.CONTROL),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, UrlProblem.TOO_LONG),
    ],
)
def test_what_cannot_be_a_web_address_is_refused_with_a_reason(
    pasted: str, problem: UrlProblem
) -> None:
    with pytest.raises(InvalidUrl) as refused:
        normalise_url(pasted)
    assert refused.value.problem is problem


def test_a_pasted_block_splits_on_lines_and_spaces() -> None:
    block = "t.me/a\r\n\n  https://x.com/b https://y.org/c\n\u200f\n"
    assert split_pasted_urls(block) == ["t.me/a", "https://x.com/b", "https://y.org/c"]


# Pieces people paste, mixed at random, plus any text at all.
pieces = st.sampled_from(
    [
        *"abcxyz019.:/?#[]()@%-_~!$&'*+,;= \t<>\"«»\\",
        *["é", "ب", "\u202e", "\x00", "ｅ", "。", "ß", "İ", "\u200f", "xn--", "http://"],
        *["https://", "hxxp://", ".onion", "t.me/", "[.]", "..", ":80", "::", ".com", ONION],
        "www.",
    ]
)
pasted_text = st.lists(pieces, max_size=30).map("".join) | st.text(max_size=80)


@settings(max_examples=1500, deadline=None)
@given(pasted_text)
def test_normalising_never_crashes_and_is_idempotent(text: str) -> None:
    try:
        url = normalise_url(text)
    except InvalidUrl:
        return
    assert normalise_url(url) == url


@settings(max_examples=1500, deadline=None)
@given(pasted_text)
def test_a_normalised_url_always_parses_as_a_web_address(text: str) -> None:
    try:
        url = normalise_url(text)
    except InvalidUrl:
        return
    parts = urlsplit(url)
    assert parts.scheme in ("http", "https")
    assert parts.hostname and parts.hostname == parts.hostname.lower()
    assert url.isascii() and not any(c.isspace() for c in url)
    assert len(url) <= MAX_URL_LENGTH
    parts.port  # noqa: B018 - raises ValueError if the port is not a port
