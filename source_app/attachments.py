"""What an attachment's envelope says about it: a safe file name and a sniffed type.

Both come from the sender and both end up in front of an officer, so neither is taken
as given. The name loses any path, control and direction-override characters (a
``U+202E`` turns ``gpj.exe`` into what looks like ``exe.jpg``) and is cut to a length
every file system accepts. The type is read from the file's first bytes, never from
the client's ``Content-Type``, and says only what the bytes look like: the officer
side must still open files in its isolated viewer (docs/threat-model.md).
"""

import codecs
import re
import unicodedata
from typing import Final

SNIFF_BYTES: Final = 64 * 1024
MAX_NAME_BYTES: Final = 200
DEFAULT_NAME: Final = "attachment"
OCTET_STREAM: Final = "application/octet-stream"
TEXT_PLAIN: Final = "text/plain; charset=utf-8"

# Characters that mean something to a shell or a file system, replaced by "_".
_RESERVED = re.compile(r'[<>:"|?*\\/]')
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(10)} | {f"lpt{i}" for i in range(10)}
)


def sanitise_file_name(raw: str | None) -> str:
    """A file name that is only a name: no path, no invisible characters, not too long."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if unicodedata.category(c) == "Zs" or c in "\t\n\r" else c
        for c in name
        if unicodedata.category(c) not in _DROPPED_CATEGORIES or c in "\t\n\r"
    )
    # Dropping a character can bring a letter and its accent together: compose again.
    name = _RESERVED.sub("_", " ".join(unicodedata.normalize("NFC", name).split()))
    # No hidden files, and no trailing dot or space (Windows drops them silently).
    name = name.strip(" .") or DEFAULT_NAME
    if name.partition(".")[0].lower() in _WINDOWS_DEVICES:
        name = f"_{name}"
    return _shorten(name)


_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")


def numbered_file_name(index: int, raw: str | None) -> str:
    """``attachment-<index>`` and the file's extension, lower case (``attachment-2.jpg``):
    the name sent instead of the file's own when the reporter asks (issue 10, item 10).
    Mirrored by ``numberedFileName`` in source_app/static/js/attachments.js."""
    extension = _EXTENSION.search(sanitise_file_name(raw))
    return f"attachment-{index}" + (f".{extension.group(1).lower()}" if extension else "")


def _shorten(name: str) -> str:
    """Cut to MAX_NAME_BYTES of UTF-8, keeping a short extension, on a character boundary."""
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = name, ""
    suffix = f".{extension}" if extension else ""
    budget = MAX_NAME_BYTES - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:budget].decode("utf-8", errors="ignore").rstrip(" .")
    return f"{cut or DEFAULT_NAME}{suffix}"


# --- Type sniffing --------------------------------------------------------------------

_SIMPLE_SIGNATURES: Final = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
    (b"\x1aE\xdf\xa3", "video/x-matroska"),
    (b"fLaC", "audio/flac"),
    (b"ID3", "audio/mpeg"),
    (b"#!AMR", "audio/amr"),
    (b"%PDF-", "application/pdf"),
    (b"{\\rtf", "application/rtf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"\x7fELF", "application/x-executable"),
    (b"MZ", "application/x-msdownload"),
)
_RIFF_TYPES: Final = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/x-msvideo"}
_FTYP_BRANDS: Final = {
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"hevc": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"avif": "image/avif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
}
_ZIP_MEMBERS: Final = (
    (b"word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_ODF = re.compile(
    rb"^PK\x03\x04.{26}mimetype(application/vnd\.oasis\.opendocument\.[a-z.-]+)", re.S
)


def sniff_media_type(head: bytes) -> str:
    """The media type the first bytes of a file show (up to SNIFF_BYTES are looked at)."""
    head = head[:SNIFF_BYTES]
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_TYPES:
        return _RIFF_TYPES[head[8:12]]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _FTYP_BRANDS:
            return _FTYP_BRANDS[brand]
        return "video/3gpp" if brand.startswith(b"3gp") else "video/mp4"
    if head[:4] == b"OggS":
        return "video/ogg" if b"theora" in head[:512] else "audio/ogg"
    if head[:4] == b"PK\x03\x04":
        return _zip_type(head)
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "audio/mpeg"  # an MPEG audio frame header without an ID3 tag
    for signature, media_type in _SIMPLE_SIGNATURES:
        if head.startswith(signature):
            if media_type == "video/x-matroska" and b"webm" in head[:64]:
                return "video/webm"
            return media_type
    if head and _is_utf8_text(head):
        return TEXT_PLAIN
    return OCTET_STREAM


def _zip_type(head: bytes) -> str:
    odf = _ODF.match(head)
    if odf:
        return odf.group(1).decode("ascii")
    for member, media_type in _ZIP_MEMBERS:
        if member in head:
            return media_type
    return "application/zip"


def _is_utf8_text(head: bytes) -> bool:
    """UTF-8 without NUL or other control bytes than whitespace (a cut last character is fine)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not any(ord(c) < 32 and c not in "\t\n\r\f" for c in text)
