"""What may be published as a transparency page (crypto/transparency_page.py, issue 14)."""

import zlib

import pytest

from crypto.errors import TransparencyPageError
from crypto.sync_api import MAX_TRANSPARENCY_PAGE_BYTES, is_transparency_name, transparency_path
from crypto.transparency_page import check_page

PAGE = """<!doctype html>
<html lang="ar" dir="rtl">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>تقرير الشفافية</title></head>
<body><main>
<nav aria-label="اللغة"><a href="2026-Q3.fr.html" lang="fr" hreflang="fr">Français</a>
<a href="2026-Q3.ar.pdf" type="application/pdf">PDF</a></nav>
<h1>تقرير</h1>
<table><caption>الفئات</caption>
<tr data-key="fraud"><th scope="row">احتيال</th><td>63</td></tr></table>
</main></body></html>
"""
PDF = (
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


def _refused(name: str, content: bytes) -> str:
    with pytest.raises(TransparencyPageError) as refused:
        check_page(name, content)
    return refused.value.reason


def test_the_names_are_quarter_language_and_format_only() -> None:
    for good in ("2026-Q3.ar.html", "2027-Q1.es.pdf", "2026-Q4.fr.html", "2026-Q2.en.pdf"):
        assert is_transparency_name(good)
        assert transparency_path(good) == f"/sync/v1/transparency/{good}"
    for bad in (
        "2026-Q5.ar.html",
        "2026-Q3.de.html",
        "2026-Q3.ar.htm",
        "../2026-Q3.ar.html",
        "2026-Q3.ar.html\n",
        "2026-q3.ar.html",
        "26-Q3.ar.pdf",
        "2026-Q3.ar.PDF",
    ):
        assert not is_transparency_name(bad), bad
        assert _refused(bad, PAGE.encode()) == "bad_name"
    with pytest.raises(ValueError):
        transparency_path("recipient-set.json")


def test_a_plain_page_and_a_plain_pdf_pass() -> None:
    check_page("2026-Q3.ar.html", PAGE.encode())
    check_page("2026-Q3.ar.html", "\ufeff".encode() + PAGE.encode())
    check_page("2026-Q3.ar.pdf", PDF)


@pytest.mark.parametrize(
    "change",
    [
        ("<h1>", "<script>alert(1)</script><h1>"),
        ("<h1>", "<SCRIPT src=2026-Q3.ar.pdf></SCRIPT><h1>"),
        ("<h1>", '<h1 onclick="alert(1)">'),
        ("<h1>", "<h1 ONMOUSEOVER=x>"),
        ('href="2026-Q3.fr.html"', 'href="javascript:alert(1)"'),
        ('href="2026-Q3.fr.html"', 'href="java&#x09;script:alert(1)"'),
        ("<h1>", '<svg onload="alert(1)"></svg><h1>'),
    ],
)
def test_a_scripted_page_is_refused(change: tuple[str, str]) -> None:
    assert _refused("2026-Q3.ar.html", PAGE.replace(*change, 1).encode()) == "scripted"


@pytest.mark.parametrize(
    "change",
    [
        ("<h1>", '<iframe src="2026-Q3.fr.html"></iframe><h1>'),
        ("<h1>", "<style>body{}</style><h1>"),
        ("<h1>", '<img src="https://tracker.example/p.png"><h1>'),
        ("<h1>", '<form action="https://x.example"></form><h1>'),
        ('<meta charset="utf-8">', '<meta http-equiv="refresh" content="0;url=https://x.example">'),
        ('<meta charset="utf-8">', '<base href="https://x.example/">'),
        ('href="2026-Q3.fr.html"', 'href="https://elsewhere.example/"'),
        ("<h1>", '<h1 style="color:red">'),
        ("<!doctype html>", "<!doctype html><!doctype html>"),
    ],
)
def test_anything_a_static_report_does_not_need_is_refused(change: tuple[str, str]) -> None:
    assert _refused("2026-Q3.ar.html", PAGE.replace(*change, 1).encode()) == "not_static"


def test_what_is_no_page_or_too_large_is_refused() -> None:
    assert _refused("2026-Q3.ar.html", b"\xff\xfe not utf-8") == "not_a_page"
    assert _refused("2026-Q3.ar.html", b"<p>no doctype</p>") == "not_a_page"
    assert _refused("2026-Q3.ar.pdf", PAGE.encode()) == "not_a_page"
    assert _refused("2026-Q3.ar.html", PDF) == "not_a_page"
    huge = PAGE.replace("<h1>", "<p>" + "x" * MAX_TRANSPARENCY_PAGE_BYTES + "</p><h1>").encode()
    assert _refused("2026-Q3.ar.html", huge) == "too_large"


def test_a_pdf_that_acts_is_refused_even_compressed_or_escaped() -> None:
    def pdf(body: bytes) -> bytes:
        return PDF.replace(b"trailer", body + b"\ntrailer")

    action = b"<< /S /JavaScript /JS (app.alert(1)) >>"
    assert _refused("2026-Q3.ar.pdf", pdf(action)) == "scripted"
    assert _refused("2026-Q3.ar.pdf", pdf(b"<< /OpenAction 3 0 R >>")) == "scripted"
    assert _refused("2026-Q3.ar.pdf", pdf(b"<< /S /J#61vaScript >>")) == "scripted"
    hidden = zlib.compress(action)
    stream = b"4 0 obj << /Type /ObjStm /Filter /FlateDecode >> stream\n" + hidden + b"\nendstream"
    assert _refused("2026-Q3.ar.pdf", pdf(stream)) == "scripted"
    twice = b"stream\n" + zlib.compress(zlib.compress(action)) + b"\nendstream"
    assert _refused("2026-Q3.ar.pdf", pdf(twice)) == "scripted"
    other_filter = b"<< /Filter /ASCIIHexDecode >> stream\n3c3c2f4a53 \nendstream"
    assert _refused("2026-Q3.ar.pdf", pdf(other_filter)) == "not_static"
