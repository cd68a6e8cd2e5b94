"""The unit's published transparency pages, as the public host keeps them (docs/retention.md).

They arrive over the signed sync API (views/sync_api.py), checked by
:func:`crypto.transparency_page.check_page`, and are served as static files by
``views/public.py`` from ``DATA_DIR/transparency``. A page is written whole or not at
all: a temporary file beside it, flushed to disk, then renamed over the name, so a
reader never sees half a page and a crash leaves at most a temporary file (swept on the
next write).
"""

import os
import tempfile
import time
from pathlib import Path

from crypto.transparency_page import check_page

FOLDER = "transparency"
_TEMPORARY_PREFIX = ".incoming-"
# A temporary file older than this was left by a killed write, not one in progress.
_LEFTOVER_SECONDS = 600


def pages_folder(data_dir: Path) -> Path:
    return data_dir / FOLDER


def store_page(data_dir: Path, name: str, content: bytes) -> bool:
    """Publish ``content`` as ``name``; True when the name was new.

    :class:`crypto.errors.TransparencyPageError` for a name or content that may not be
    published (nothing is written). The same bytes again write nothing; other bytes
    replace the page (the unit re-rendered it).
    """
    check_page(name, content)
    folder = pages_folder(data_dir)
    folder.mkdir(mode=0o755, exist_ok=True)
    target = folder / name
    if target.exists():
        if target.read_bytes() == content:
            return False
        created = False
    else:
        created = True
    _sweep_leftovers(folder)
    handle, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(folder)
    return created


def _sweep_leftovers(folder: Path) -> None:
    """Temporary files a killed write left behind (never served: not a page name)."""
    cutoff = time.time() - _LEFTOVER_SECONDS
    for leftover in folder.glob(f"{_TEMPORARY_PREFIX}*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
        except FileNotFoundError:
            continue


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
