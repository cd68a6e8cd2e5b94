"""PDQ perceptual hashes (pdqhash) and a nearest-neighbour scan over many of them.

A PDQ hash is 256 bits, kept as 64 hex digits. Two pictures of the same scene after
re-encoding, resizing or a small crop are a few to a few tens of bits apart; unrelated
pictures about 128 (/work/shared/FACTS.md). The unit's default match distance is 31.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pdqhash
from PIL import Image

DEFAULT_MAX_DISTANCE = 31
# PDQ works on a 64×64 luminance grid after its own filtering: larger inputs only cost time.
_WORK_EDGE = 256
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_EDGE = 20_000


@dataclass(frozen=True)
class PdqHash:
    hex: str
    quality: int


def pdq_of_picture(picture: Image.Image) -> PdqHash:
    """PDQ of an already opened picture (first frame)."""
    frame = picture.convert("RGB")
    if max(frame.size) > _WORK_EDGE:
        frame.thumbnail((_WORK_EDGE, _WORK_EDGE), Image.Resampling.BILINEAR)
    bits, quality = pdqhash.compute(np.asarray(frame))
    return PdqHash(hex=bits_to_hex(bits), quality=int(quality))


# Crops hashed beside the whole picture so that a cropped copy still meets it: the centre
# at 95% and 90%, and each corner at 95% (a 5% crop from one side). A query hashes the
# whole picture only; it meets the nearest of the stored variants.
VARIANTS: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("full", (0.0, 0.0, 1.0, 1.0)),
    ("centre95", (0.025, 0.025, 0.975, 0.975)),
    ("centre90", (0.05, 0.05, 0.95, 0.95)),
    ("topleft95", (0.0, 0.0, 0.95, 0.95)),
    ("topright95", (0.05, 0.0, 1.0, 0.95)),
    ("bottomleft95", (0.0, 0.05, 0.95, 1.0)),
    ("bottomright95", (0.05, 0.05, 1.0, 1.0)),
)


def pdq_variants(picture: Image.Image) -> dict[str, PdqHash]:
    """PDQ of the whole picture and of each stored crop (:data:`VARIANTS`)."""
    frame = picture.convert("RGB")
    if max(frame.size) > _WORK_EDGE:
        frame.thumbnail((_WORK_EDGE, _WORK_EDGE), Image.Resampling.BILINEAR)
    width, height = frame.size
    found = {}
    for name, (left, top, right, bottom) in VARIANTS:
        box = (int(width * left), int(height * top), int(width * right), int(height * bottom))
        part = frame if name == "full" else frame.crop(box)
        bits, quality = pdqhash.compute(np.asarray(part))
        found[name] = PdqHash(hex=bits_to_hex(bits), quality=int(quality))
    return found


def open_picture(data: bytes) -> Image.Image | None:
    """A picture Pillow opens within the size guards, or None."""
    try:
        picture = Image.open(io.BytesIO(data))
        width, height = picture.size
        if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_EDGE:
            return None
        picture.draft("RGB", (_WORK_EDGE, _WORK_EDGE))
        picture.load()
        return picture
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def pdq_of_bytes(data: bytes) -> PdqHash | None:
    """PDQ of a picture file held in memory, or None if it is not a picture Pillow opens
    within the size guards."""
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            if width * height > MAX_IMAGE_PIXELS or max(width, height) > MAX_IMAGE_EDGE:
                return None
            picture.draft("RGB", (_WORK_EDGE, _WORK_EDGE))
            return pdq_of_picture(picture)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def bits_to_hex(bits: Sequence[int] | np.ndarray) -> str:
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    return bytes(packed).hex()


def valid_pdq(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text.lower())


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


class PdqIndex:
    """Many PDQ hashes in one numpy array: a query is an XOR and a popcount per row."""

    def __init__(self, keys: Sequence[object], hashes: Sequence[str]) -> None:
        self.keys = list(keys)
        if hashes:
            raw = b"".join(bytes.fromhex(h) for h in hashes)
            self._rows = np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)
        else:
            self._rows = np.zeros((0, 4), dtype=np.uint64)

    def __len__(self) -> int:
        return len(self.keys)

    def near(
        self, query: str, max_distance: int = DEFAULT_MAX_DISTANCE
    ) -> list[tuple[object, int]]:
        """Keys within ``max_distance`` bits of ``query``, nearest first."""
        if not len(self.keys):
            return []
        wanted = np.frombuffer(bytes.fromhex(query), dtype=">u8").astype(np.uint64)
        distances = np.bitwise_count(self._rows ^ wanted).sum(axis=1)
        hits = np.nonzero(distances <= max_distance)[0]
        found = sorted((int(distances[i]), int(i)) for i in hits)
        return [(self.keys[i], d) for d, i in found]
