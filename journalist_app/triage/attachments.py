"""Attachments on the officer host: decrypted on demand, typed by content, pictured safely.

A reporter's file is evidence and may be hostile: a page disguised as a picture, a
program named ``.jpg``, a picture that expands to gigabytes, a photo whose metadata
says where it was taken. So:

- its type comes from its first bytes (:func:`detect_type`), never from its name or the
  type the sender claimed;
- it is downloaded, never displayed: ``Content-Disposition: attachment``, a sanitised
  name whose extension follows the detected type, ``application/octet-stream`` unless
  the type is on :data:`SERVED_TYPES`, and ``nosniff`` (views/case_files.py);
- a picture is shown only as a thumbnail the app draws itself (:func:`make_thumbnail`):
  size limits checked before decoding, first frame only, at most 320 px, re-encoded
  from raw pixels so no metadata of the original survives, served from memory.
"""

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from PIL import Image, ImageFilter, ImageOps
from sqlalchemy.orm import Session

from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import ReportBlob
from journalist_app.reports.sealed import Purpose, SealedUnreadable, open_sealed
from journalist_app.sync.blob_store import BlobStore
from journalist_app.triage.errors import AttachmentRefused

ATTACHMENT_KIND: Final = "attachment"
SNIFF_BYTES: Final = 512
OCTET_STREAM: Final = "application/octet-stream"
# Decrypted into memory to be served: larger files are refused with a clear message.
MAX_DOWNLOAD_BYTES: Final = 256 * 1024 * 1024
MAX_THUMBNAIL_SOURCE_BYTES: Final = 32 * 1024 * 1024
MAX_IMAGE_PIXELS: Final = 40_000_000
MAX_IMAGE_EDGE: Final = 20_000
THUMBNAIL_EDGE: Final = 320

# (type, extension) by leading bytes; checked in order.
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x1aE\xdf\xa3", "video/webm", "webm"),
    (b"OggS", "audio/ogg", "ogg"),
    (b"ID3", "audio/mpeg", "mp3"),
    (b"PK\x03\x04", "application/zip", "zip"),
    (b"\x1f\x8b", "application/gzip", "gz"),
    (b"Rar!\x1a\x07", "application/vnd.rar", "rar"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", "7z"),
    (b"MZ", "application/x-msdownload", "bin"),
    (b"\x7fELF", "application/x-executable", "bin"),
)
_MARKUP = re.compile(rb"\s*(<\?xml|<!doctype|<html|<svg|<script|<head|<body)", re.IGNORECASE)
_EXTENSIONS = {kind: ext for _, kind, ext in _SIGNATURES} | {
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "text/plain": "txt",
    "text/html": "html.txt",
    OCTET_STREAM: "bin",
}
# Served with their own type (still as a download); everything else is octet-stream.
SERVED_TYPES: Final = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "video/mp4",
        "video/webm",
        "audio/mpeg",
        "audio/ogg",
        "text/plain",
    }
)
# Pictures the app draws a thumbnail of, with the only Pillow decoder tried for each.
THUMBNAIL_TYPES: Final = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}


def detect_type(head: bytes) -> str:
    """The type of a file from its first bytes (at least :data:`SNIFF_BYTES` if it has them)."""
    for signature, kind, _ in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:10] == b"qt" else "video/mp4"
    if _MARKUP.match(head):
        # Active content: never served as what it is (it downloads as text).
        return "text/html"
    if head and _is_text(head):
        return "text/plain"
    return OCTET_STREAM


def served_type(detected: str) -> str:
    return detected if detected in SERVED_TYPES else OCTET_STREAM


def is_picture(detected: str) -> bool:
    return detected in THUMBNAIL_TYPES


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return all(ch in "\n\r\t\f" or unicodedata.category(ch) != "Cc" for ch in text)


# --- names ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadName:
    """A file name fit for Content-Disposition, with the extension of the detected type."""

    ascii: str
    unicode: str

    def content_disposition(self) -> str:
        return (
            f'attachment; filename="{self.ascii}"; '
            f"filename*=UTF-8''{quote(self.unicode, safe='')}"
        )


_NAME_CHARS = re.compile(r"[^\w\- ]+", re.UNICODE)
_MAX_STEM = 80


def safe_filename(claimed: str, detected: str, fallback: str) -> DownloadName:
    """The reporter's name reduced to letters, digits, spaces and dashes, plus a safe extension.

    The claimed extension is dropped (a ``photo.jpg.exe`` program becomes
    ``photo_jpg.bin``); invisible and direction-changing characters are removed, so a
    name cannot pretend to end with something it does not.
    """
    name = unicodedata.normalize("NFKC", claimed).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    stem = name.rsplit(".", 1)[0] if "." in name.strip(".") else name
    stem = _NAME_CHARS.sub("_", stem.replace(".", "_"))
    stem = re.sub(r"_+", "_", stem).strip(" _-")[:_MAX_STEM].strip(" _-") or fallback
    extension = _EXTENSIONS.get(detected, "bin")
    ascii_stem = re.sub(r"_+", "_", stem.encode("ascii", "replace").decode().replace("?", "_"))
    ascii_stem = ascii_stem.strip(" _-") or fallback
    return DownloadName(ascii=f"{ascii_stem}.{extension}", unicode=f"{stem}.{extension}")


# --- decryption ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DecryptedAttachment:
    content: bytes
    claimed_name: str
    detected_type: str

    def __repr__(self) -> str:
        return f"DecryptedAttachment(<{len(self.content)} bytes>, {self.detected_type})"


def decrypt_attachment(
    session: Session,
    store: BlobStore,
    keyring: UnlockedKeyring,
    blob: ReportBlob,
    purpose: Purpose,
    *,
    target: str,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
) -> DecryptedAttachment:
    """Open one attachment envelope in memory; nothing of it is written to disk.

    ``purpose`` (download or picture) names the audit entry added to the transaction.
    """
    if not blob.name.startswith("attachment-"):
        raise AttachmentRefused("not an attachment")
    if blob.size > max_bytes:
        raise AttachmentRefused("the attachment is too large to open here")
    content = io.BytesIO()
    try:
        opened = open_sealed(
            session,
            store,
            keyring,
            blob,
            purpose,
            content,
            max_bytes=max_bytes,
            target=target,
        )
    except SealedUnreadable as exc:
        raise AttachmentRefused(f"the attachment does not open: {exc}") from exc
    data = content.getvalue()
    return DecryptedAttachment(
        content=data,
        claimed_name=opened.metadata.name,
        detected_type=detect_type(data[:SNIFF_BYTES]),
    )


# --- thumbnails ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Thumbnail:
    content: bytes
    content_type: str


def make_thumbnail(data: bytes, *, sharp: bool = False) -> Thumbnail:
    """A new small picture drawn from ``data``'s pixels; never the original bytes.

    Unless ``sharp`` (an officer's explicit, logged reveal: views/case_files.py), the
    picture is drawn blurred and in greyscale here, on the server: no stylesheet, hover
    or developer tool can undo what the browser never received.

    Refuses (``AttachmentRefused``) what is not a PNG, JPEG, GIF or WebP by its content,
    what is too large compressed or decoded (decompression bombs), and what does not
    decode.
    """
    detected = detect_type(data[:SNIFF_BYTES])
    if detected not in THUMBNAIL_TYPES:
        raise AttachmentRefused("not a picture")
    if len(data) > MAX_THUMBNAIL_SOURCE_BYTES:
        raise AttachmentRefused("the picture is too large to preview")
    formats = [THUMBNAIL_TYPES[detected]]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=formats) as probe:
                _check_dimensions(*probe.size)
                probe.verify()
            with Image.open(io.BytesIO(data), formats=formats) as image:
                _check_dimensions(*image.size)
                image.draft("RGB", (THUMBNAIL_EDGE * 2, THUMBNAIL_EDGE * 2))
                image.seek(0)
                frame = ImageOps.exif_transpose(image) or image
                frame.thumbnail((THUMBNAIL_EDGE, THUMBNAIL_EDGE))
                has_alpha = frame.mode in ("RGBA", "LA", "PA") or (
                    frame.mode == "P" and "transparency" in frame.info
                )
                mode = "RGBA" if has_alpha else "RGB"
                pixels = frame.convert(mode)
                # A fresh image from raw pixels: no EXIF, ICC, XMP or text chunk follows.
                clean = Image.frombytes(mode, pixels.size, pixels.tobytes())
                if not sharp:
                    clean = _veiled(clean)
    except AttachmentRefused:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        MemoryError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise AttachmentRefused(f"the picture does not decode safely: {exc}") from exc
    out = io.BytesIO()
    if has_alpha:
        clean.save(out, format="PNG", optimize=True)
        return Thumbnail(out.getvalue(), "image/png")
    clean.save(out, format="JPEG", quality=80)
    return Thumbnail(out.getvalue(), "image/jpeg")


def _veiled(picture: Image.Image) -> Image.Image:
    """Greyscale and blurred hard enough that shapes, not details, remain."""
    radius = max(6, max(picture.size) // 24)
    grey = picture.convert("L").filter(ImageFilter.GaussianBlur(radius))
    if picture.mode == "RGBA":
        veiled = grey.convert("RGBA")
        veiled.putalpha(picture.getchannel("A"))
        return veiled
    return grey.convert("RGB")


def _check_dimensions(width: int, height: int) -> None:
    if (
        width < 1
        or height < 1
        or width > MAX_IMAGE_EDGE
        or height > MAX_IMAGE_EDGE
        or width * height > MAX_IMAGE_PIXELS
    ):
        raise AttachmentRefused(f"a {width}×{height} picture is too large to preview")
