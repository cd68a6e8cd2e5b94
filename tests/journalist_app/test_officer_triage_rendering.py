import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journalist_app.triage.rendering import clean_text, show_address

MARKER = re.compile(r'<span class="control-char" dir="ltr" title="[^"<>]*">\[[^\]<>]*\]</span>')


def _without_markers(html: str) -> str:
    return MARKER.sub("", html)


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ('<script>alert("x")</script>', "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        ("<img src=x onerror=alert(2)>", "&lt;img src=x onerror=alert(2)&gt;"),
        (
            '<a href="javascript:alert(1)">click</a>',
            "&lt;a href=&quot;javascript:alert(1)&quot;&gt;",
        ),
        (
            '<div style="background:url(https://evil.example/t.png)">x</div>',
            "&lt;div style=&quot;background:url(https://evil.example/t.png)&quot;&gt;",
        ),
        ("<style>body{display:none}</style>", "&lt;style&gt;body{display:none}&lt;/style&gt;"),
        (
            "<!-- comment --><svg onload=alert(1)>",
            "&lt;!-- comment --&gt;&lt;svg onload=alert(1)&gt;",
        ),
        ("&lt;b&gt; typed as such", "&amp;lt;b&amp;gt; typed as such"),
    ],
)
def test_hostile_markup_arrives_as_visible_text(hostile, shown) -> None:
    html = str(clean_text(hostile))
    assert shown in html
    assert "<" not in html and ">" not in html


def test_arabic_and_mixed_direction_text_is_kept_as_written() -> None:
    text = "هذا الحساب ينشر https://example.org/x يوميا\nLe compte publie chaque jour 2026"
    assert str(clean_text(text)) == text.replace("/", "/")


def test_direction_overrides_are_shown_and_neutralised() -> None:
    # The classic trick: RLO makes "gpj.exe" read "exe.jpg".
    html = str(clean_text("photo\u202egpj.exe and \u2067isolate\u2069 and \u202bembed\u202c"))
    for control in ("\u202e", "\u2067", "\u2069", "\u202b", "\u202c"):
        assert control not in html
    assert "[U+202E RLO]" in html and "[U+2067 RLI]" in html and "[U+202C PDF]" in html
    assert 'title="RIGHT-TO-LEFT OVERRIDE"' in html
    assert _without_markers(html) == "photogpj.exe and isolate and embed"


def test_direction_marks_typed_by_arabic_keyboards_stay() -> None:
    assert str(clean_text("نعم\u200f 100")) == "نعم\u200f 100"


def test_other_control_characters_are_made_visible() -> None:
    html = str(clean_text("bell\x07 escape\x1b[31m null\x00"))
    assert "[U+0007]" in html and "[U+001B]" in html and "[U+0000]" in html
    assert "\x07" not in html and "\x1b" not in html and "\x00" not in html


@given(st.text())
def test_no_markup_ever_comes_out_but_our_markers(text) -> None:
    html = _without_markers(str(clean_text(text)))
    assert "<" not in html and ">" not in html
    for control in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
        assert control not in html


def test_an_address_with_hidden_characters_is_copied_percent_encoded() -> None:
    shown = show_address("https://bank.example\u202e/moc.lapyap")
    assert shown.hides_characters and shown.is_web
    assert shown.copy_text == "https://bank.example%E2%80%AE/moc.lapyap"
    assert "\u202e" not in str(shown.marked) and "[U+202E RLO]" in str(shown.marked)


@pytest.mark.parametrize("raw", ["javascript:alert(document.cookie)", "data:text/html,<b>x</b>"])
def test_what_is_not_a_web_address_says_so(raw) -> None:
    shown = show_address(raw)
    assert not shown.is_web
    assert "<" not in str(shown.marked)


def test_a_host_in_other_letters_shows_its_ascii_form() -> None:
    # Cyrillic "а" in what looks like apple.com.
    shown = show_address("https://\u0430pple.com/login")
    assert shown.ascii_host == "xn--pple-43d.com"
    assert show_address("https://apple.com/").ascii_host is None
