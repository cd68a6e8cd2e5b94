import io
import struct
import zlib

import pytest
from PIL import Image

from journalist_app.triage.attachments import (
    THUMBNAIL_EDGE,
    detect_type,
    make_thumbnail,
    safe_filename,
    served_type,
)
from journalist_app.triage.errors import AttachmentRefused

GPS_TAG = 0x8825
ARTIST_TAG = 0x013B


def jpeg_with_metadata(size: tuple[int, int] = (1200, 800)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ARTIST_TAG] = "Reporter's phone owner"
    exif[GPS_TAG] = {1: "N", 2: (33.0, 35.0, 0.0), 3: "W", 4: (7.0, 36.0, 0.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


def png(size: tuple[int, int], mode: str = "RGBA") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size).save(out, format="PNG")
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes whose header announces a huge picture: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 4096, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_thumbnail_is_a_new_small_picture_without_the_originals_metadata() -> None:
    original = jpeg_with_metadata()
    assert b"Exif" in original and Image.open(io.BytesIO(original)).getexif()

    thumbnail = make_thumbnail(original)

    assert thumbnail.content != original
    assert thumbnail.content_type == "image/jpeg"
    assert b"Exif" not in thumbnail.content and b"Reporter" not in thumbnail.content
    redrawn = Image.open(io.BytesIO(thumbnail.content))
    assert not redrawn.getexif() and "icc_profile" not in redrawn.info
    assert max(redrawn.size) == THUMBNAIL_EDGE and redrawn.size == (320, 213)


def test_a_transparent_picture_stays_transparent_as_png() -> None:
    thumbnail = make_thumbnail(png((40, 30)))
    assert thumbnail.content_type == "image/png"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (40, 30)


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = png_claiming(60_000, 60_000)
    assert len(bomb) < 1000
    with pytest.raises(AttachmentRefused, match=r"too large|decompression bomb"):
        make_thumbnail(bomb)
    with pytest.raises(AttachmentRefused):
        make_thumbnail(png_claiming(19_000, 19_000))


@pytest.mark.parametrize(
    "content",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"MZ\x90\x00 a program named photo.jpg",
        b"\xff\xd8\xff\xe0 truncated jpeg",
        b"GIF89a",
        b"%PDF-1.7",
    ],
)
def test_what_is_not_a_decodable_picture_gets_no_thumbnail(content) -> None:
    with pytest.raises(AttachmentRefused):
        make_thumbnail(content)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe1....Exif", "image/jpeg"),
        (b"GIF87a..", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4", "application/pdf"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"PK\x03\x04", "application/zip"),
        (b"MZ\x90\x00", "application/x-msdownload"),
        (b"\x7fELF\x02", "application/x-executable"),
        (b"  <!DOCTYPE html><html>", "text/html"),
        (b"<svg onload=alert(1)>", "text/html"),
        ("Bonjour, voici la capture. مرحبا".encode(), "text/plain"),
        (b"\x00\x01\x02 binary", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_types_come_from_the_content(head, kind) -> None:
    assert detect_type(head) == kind


def test_only_listed_types_are_served_as_themselves() -> None:
    assert served_type("image/png") == "image/png"
    for dangerous in ("text/html", "application/x-msdownload", "application/zip"):
        assert served_type(dangerous) == "application/octet-stream"


@pytest.mark.parametrize(
    ("claimed", "detected", "ascii_name", "unicode_name"),
    [
        ("holiday.jpg", "image/jpeg", "holiday.jpg", "holiday.jpg"),
        ("invoice.pdf.exe", "application/x-msdownload", "invoice_pdf.bin", "invoice_pdf.bin"),
        ("photo.jpg", "text/html", "photo.html.txt", "photo.html.txt"),
        ("../../etc/passwd", "text/plain", "passwd.txt", "passwd.txt"),
        ("C:\\Users\\x\\secret.png", "image/png", "secret.png", "secret.png"),
        ("report\u202egpj.exe", "application/x-msdownload", "reportgpj.bin", "reportgpj.bin"),
        ("صورة الحساب.png", "image/png", "attachment-1.png", "صورة الحساب.png"),
        ('a"b;c\r\nd.png', "image/png", "a_b_cd.png", "a_b_cd.png"),
        ("", "application/octet-stream", "attachment-1.bin", "attachment-1.bin"),
        (".htaccess", "text/plain", "htaccess.txt", "htaccess.txt"),
    ],
)
def test_download_names_are_sanitised_and_typed_by_content(
    claimed, detected, ascii_name, unicode_name
) -> None:
    name = safe_filename(claimed, detected, "attachment-1")
    assert (name.ascii, name.unicode) == (ascii_name, unicode_name)
    header = name.content_disposition()
    assert header.startswith("attachment; ")
    assert "\r" not in header and "\n" not in header and header.isascii()
