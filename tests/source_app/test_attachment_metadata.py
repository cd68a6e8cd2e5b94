"""An attachment's name and type as the officer will see them: safe, and from the bytes."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from source_app.attachments import (
    MAX_NAME_BYTES,
    OCTET_STREAM,
    TEXT_PLAIN,
    sanitise_file_name,
    sniff_media_type,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("لقطة شاشة.png", "لقطة شاشة.png"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system32\\evil.dll", "evil.dll"),
        ("C:\\Users\\me\\Desktop\\video.mp4", "video.mp4"),
        ("in\x00visible.txt", "invisible.txt"),
        ("\u202egpj.exe", "gpj.exe"),
        ("report\u200f\u200e.pdf", "report.pdf"),
        ("  .hidden  ", "hidden"),
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("CON.txt", "_CON.txt"),
        ("tab\there.txt", "tab here.txt"),
        ("e\u0301te\u0301.doc", "été.doc"),
    ],
)
def test_file_names_keep_only_a_name(raw: str | None, expected: str) -> None:
    assert sanitise_file_name(raw) == expected


def test_very_long_names_are_cut_keeping_the_extension() -> None:
    name = sanitise_file_name("ب" * 500 + ".jpeg")
    assert name.endswith(".jpeg")
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES


names = st.text(max_size=400) | st.lists(
    st.sampled_from(["../", "..", "\x00", "\u202e", "gpj.exe", "a" * 300, "ب" * 150, ".", " "])
    | st.sampled_from(["\\", "C:", "con", "/etc/passwd", "é", "\u200b", "\n"]),
    max_size=8,
).map("".join)


@settings(max_examples=800, deadline=None)
@given(names)
def test_any_name_becomes_a_safe_short_stable_name(raw: str) -> None:
    name = sanitise_file_name(raw)
    assert name and name == name.strip() and not name.startswith(".")
    assert not any(c in name for c in '/\\\x00:*?"<>|')
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in name)
    assert len(name.encode("utf-8")) <= MAX_NAME_BYTES
    assert sanitise_file_name(name) == name


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00", "image/heic"),
        (b"\x00\x00\x00\x20ftypisom\x00\x00", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00", "video/quicktime"),
        (b"\x00\x00\x00\x14ftyp3gp5\x00\x00", "video/3gpp"),
        (b"\x1aE\xdf\xa3\x9fB\x86\x81\x01webm", "video/webm"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"ID3\x03\x00", "audio/mpeg"),
        (b"%PDF-1.7\n", "application/pdf"),
        (
            b"PK\x03\x04" + b"\x00" * 26 + b"[Content_Types].xml" + b"\x00" * 40 + b"word/document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            b"PK\x03\x04" + b"\x00" * 26 + b"mimetypeapplication/vnd.oasis.opendocument.text",
            "application/vnd.oasis.opendocument.text",
        ),
        (b"PK\x03\x04" + b"\x00" * 40, "application/zip"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        ("نص عادي\n".encode(), TEXT_PLAIN),
        (b"<html><script>alert(1)</script>", TEXT_PLAIN),
        (b"\x00\x01\x02\x03", OCTET_STREAM),
        (b"", OCTET_STREAM),
    ],
)
def test_the_type_comes_from_the_first_bytes(head: bytes, expected: str) -> None:
    assert sniff_media_type(head) == expected


def test_text_cut_in_the_middle_of_a_character_is_still_text() -> None:
    assert sniff_media_type("é".encode() * 10 + "é".encode()[:1]) == TEXT_PLAIN


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600))
def test_sniffing_any_bytes_gives_a_media_type(head: bytes) -> None:
    media_type = sniff_media_type(head)
    assert "/" in media_type and media_type.isascii()
