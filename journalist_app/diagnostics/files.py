"""What a file says about itself, read in memory: type, size, hashes, pictures' EXIF/GPS,
PDQ, PDF pages, and for videos (Debian's ffmpeg, when installed) duration and a PDQ per
keyframe.

Nothing decrypted touches the disk: a video reaches ffprobe/ffmpeg through an in-memory
file (``memfd_create``) passed as ``/proc/self/fd/N``; frames come back on a pipe.
"""

import hashlib
import io
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from fractions import Fraction

from PIL import ExifTags, Image

from journalist_app.diagnostics.pdq import (
    MAX_IMAGE_EDGE,
    MAX_IMAGE_PIXELS,
    PdqHash,
    pdq_of_picture,
    pdq_variants,
)
from journalist_app.triage.attachments import detect_type

# EXIF fields worth an officer's eye: they may identify a device, a person or a place.
_EXIF_FIELDS = (
    "Make",
    "Model",
    "Software",
    "DateTime",
    "DateTimeOriginal",
    "Artist",
    "Copyright",
    "BodySerialNumber",
    "LensModel",
    "ImageDescription",
)
MAX_KEYFRAMES = 8
VIDEO_TIMEOUT_SECONDS = 60


@dataclass
class FileDiagnosis:
    detected_type: str
    size: int
    md5: str
    sha1: str
    sha256: str
    width: int | None = None
    height: int | None = None
    frames: int | None = None
    duration_seconds: float | None = None
    metadata: list[tuple[str, str]] = field(default_factory=list)
    gps: tuple[float, float] | None = None
    pdq: PdqHash | None = None
    pdq_variants: dict[str, PdqHash] = field(default_factory=dict)
    keyframe_pdqs: list[str] = field(default_factory=list)
    pdf_pages: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def has_identifying_metadata(self) -> bool:
        return bool(self.metadata) or self.gps is not None


def hashes(data: bytes) -> tuple[str, str, str]:
    return (
        hashlib.md5(data, usedforsecurity=False).hexdigest(),
        hashlib.sha1(data, usedforsecurity=False).hexdigest(),
        hashlib.sha256(data).hexdigest(),
    )


def diagnose_file(data: bytes, *, video: bool = True) -> FileDiagnosis:
    """Every diagnostic of one decrypted file held in memory."""
    md5, sha1, sha256 = hashes(data)
    diagnosis = FileDiagnosis(
        detected_type=detect_content_type(data), size=len(data), md5=md5, sha1=sha1, sha256=sha256
    )
    kind = diagnosis.detected_type
    if kind.startswith("image/"):
        _picture(data, diagnosis)
    elif kind == "application/pdf":
        _pdf(data, diagnosis)
    elif kind.startswith("video/") and video:
        _video(data, diagnosis)
    return diagnosis


def detect_content_type(data: bytes) -> str:
    """triage/attachments.py's signatures, plus the ISO media family (MP4, MOV, HEIC)."""
    head = data[:512]
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
        if brand == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return detect_type(head)


def _picture(data: bytes, diagnosis: FileDiagnosis) -> None:
    try:
        with Image.open(io.BytesIO(data)) as picture:
            diagnosis.width, diagnosis.height = picture.size
            diagnosis.frames = getattr(picture, "n_frames", 1)
            if (
                picture.width * picture.height > MAX_IMAGE_PIXELS
                or max(picture.size) > MAX_IMAGE_EDGE
            ):
                diagnosis.notes.append("too_large_to_decode")
                return
            _exif(picture, diagnosis)
            picture.draft("RGB", (256, 256))
            diagnosis.pdq_variants = pdq_variants(picture)
            diagnosis.pdq = diagnosis.pdq_variants["full"]
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        diagnosis.notes.append("picture_does_not_decode")


def _exif(picture: Image.Image, diagnosis: FileDiagnosis) -> None:
    exif = picture.getexif()
    names = {value: key for key, value in ExifTags.TAGS.items()}
    found: list[tuple[str, str]] = []
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    for name in _EXIF_FIELDS:
        tag = names.get(name)
        value = exif.get(tag) if tag is not None else None
        if value is None and tag is not None:
            value = sub.get(tag)
        if value not in (None, "", b""):
            found.append((name, _text(value)))
    for key, value in (picture.info or {}).items():
        if key in ("XML:com.adobe.xmp", "xmp") and value:
            found.append(("XMP", _text(value)[:500]))
        elif key in ("comment", "Comment", "Description", "Author") and value:
            found.append((str(key), _text(value)[:500]))
    diagnosis.metadata = found
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if gps:
        diagnosis.gps = _gps(gps)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip("\x00 ")
    return str(value).strip("\x00 ")


def _gps(gps: dict[int, object]) -> tuple[float, float] | None:
    try:
        lat = _degrees(gps[2], gps.get(1, "N"))
        lon = _degrees(gps[4], gps.get(3, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return round(lat, 6), round(lon, 6)


def _degrees(value: object, ref: object) -> float:
    parts = list(value) if isinstance(value, tuple | list) else []
    d, m, s = (float(Fraction(str(part))) for part in parts)
    degrees = d + m / 60 + s / 3600
    ref_text = ref.decode() if isinstance(ref, bytes) else str(ref)
    return -degrees if ref_text.upper() in ("S", "W") else degrees


def _pdf(data: bytes, diagnosis: FileDiagnosis) -> None:
    diagnosis.pdf_pages = len(re.findall(rb"/Type\s*/Page[^s]", data)) or None
    for key in (b"Author", b"Creator", b"Producer", b"Title", b"CreationDate"):
        match = re.search(rb"/" + key + rb"\s*\(((?:\\.|[^)\\]){0,400})\)", data)
        if match:
            diagnosis.metadata.append((key.decode(), _pdf_text(match.group(1))))


def _pdf_text(raw: bytes) -> str:
    raw = re.sub(rb"\\([()\\])", rb"\1", raw)
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "replace")
    return raw.decode("latin-1")


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _video(data: bytes, diagnosis: FileDiagnosis) -> None:
    if not ffmpeg_available():
        diagnosis.notes.append("ffmpeg_missing")
        return
    fd = os.memfd_create("iblagh-video", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as handle:
            handle.write(data)
        source = f"/proc/self/fd/{fd}"
        probe = subprocess.run(
            [
                "ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                "stream=width,height:format=duration", "-of", "default=noprint_wrappers=1",
                source,
            ],
            capture_output=True, timeout=VIDEO_TIMEOUT_SECONDS, pass_fds=(fd,), check=False,
        )  # fmt: skip
        for line in probe.stdout.decode("ascii", "replace").splitlines():
            key, _, value = line.partition("=")
            try:
                if key == "width":
                    diagnosis.width = int(value)
                elif key == "height":
                    diagnosis.height = int(value)
                elif key == "duration":
                    diagnosis.duration_seconds = round(float(value), 3)
            except ValueError:
                continue
        frames = subprocess.run(
            [
                "ffmpeg", "-v", "error", "-skip_frame", "nokey", "-i", source, "-vsync", "vfr",
                "-frames:v", str(MAX_KEYFRAMES), "-vf", "scale=256:-2", "-f", "image2pipe",
                "-c:v", "png", "pipe:1",
            ],
            capture_output=True, timeout=VIDEO_TIMEOUT_SECONDS, pass_fds=(fd,), check=False,
        )  # fmt: skip
        for png in _split_pngs(frames.stdout):
            with Image.open(io.BytesIO(png)) as frame:
                diagnosis.keyframe_pdqs.append(pdq_of_picture(frame).hex)
        if diagnosis.keyframe_pdqs:
            diagnosis.pdq = PdqHash(diagnosis.keyframe_pdqs[0], 100)
    except (OSError, subprocess.SubprocessError):
        diagnosis.notes.append("video_does_not_decode")
    finally:
        os.close(fd)


def _split_pngs(stream: bytes) -> list[bytes]:
    signature = b"\x89PNG\r\n\x1a\n"
    parts = stream.split(signature)
    return [signature + part for part in parts if part]
