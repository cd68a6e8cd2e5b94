"""Persistent v3 onion keys, and the private files and folders they rest in.

A v3 onion address *is* its key: whoever holds the key can publish the address, and
losing the key loses the address that reporters have bookmarked. So the key is made
once, stored under the data dir in a 0600 file inside a 0700 folder, and every load
checks those permissions first: a key another user can read is refused, not used.

The key is stored as tor's own control-port blob (``ED25519-V3:<base64>``, the 64-byte
expanded secret key), so it goes to ``ADD_ONION`` as is. The address is derived here,
without tor, so ``iblagh-tor init`` and ``address`` work before any tor runs.
"""

import base64
import binascii
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from nacl.bindings import crypto_scalarmult_ed25519_base_noclamp
from nacl.utils import random

from tor.errors import InsecureKeyFile, MalformedKey

KEY_BLOB_PREFIX = "ED25519-V3:"
ONION_VERSION = b"\x03"
ADDRESS_LENGTH = 56  # base32 of 32-byte key + 2-byte checksum + version byte


@dataclass(frozen=True)
class OnionKey:
    """A v3 onion service's secret key (expanded Ed25519) and the address it publishes."""

    expanded: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.expanded) != 64:
            raise MalformedKey("an onion key is 64 bytes (expanded Ed25519)")

    @classmethod
    def generate(cls) -> "OnionKey":
        """A fresh key, expanded and clamped the way Ed25519 (and tor) do."""
        digest = bytearray(hashlib.sha512(random(32)).digest())
        digest[0] &= 248
        digest[31] &= 127
        digest[31] |= 64
        return cls(bytes(digest))

    @classmethod
    def from_blob(cls, blob: str) -> "OnionKey":
        """Parse ``ED25519-V3:<base64>``, as ADD_ONION returns and accepts it."""
        text = blob.strip()
        if not text.startswith(KEY_BLOB_PREFIX):
            raise MalformedKey(f"an onion key starts with {KEY_BLOB_PREFIX}")
        try:
            raw = base64.b64decode(text[len(KEY_BLOB_PREFIX) :], validate=True)
        except binascii.Error as exc:
            raise MalformedKey("an onion key is base64 after its prefix") from exc
        return cls(raw)

    @property
    def blob(self) -> str:
        return KEY_BLOB_PREFIX + base64.b64encode(self.expanded).decode("ascii")

    @property
    def public_key(self) -> bytes:
        # The first half is the already-clamped scalar: no clamping again.
        return crypto_scalarmult_ed25519_base_noclamp(self.expanded[:32])

    @property
    def service_id(self) -> str:
        """The address without ``.onion`` (tor's ServiceID)."""
        return onion_service_id(self.public_key)

    @property
    def hostname(self) -> str:
        return self.service_id + ".onion"


def onion_service_id(public_key: bytes) -> str:
    """rend-spec-v3: base32(PUBKEY | CHECKSUM | VERSION), lower case."""
    checksum = hashlib.sha3_256(b".onion checksum" + public_key + ONION_VERSION).digest()[:2]
    return base64.b32encode(public_key + checksum + ONION_VERSION).decode("ascii").lower()


def is_service_id(text: str) -> bool:
    """True for a well-formed v3 address without ``.onion`` (checksum verified)."""
    if len(text) != ADDRESS_LENGTH:
        return False
    try:
        raw = base64.b32decode(text.upper())
    except binascii.Error:
        return False
    return raw[-1:] == ONION_VERSION and onion_service_id(raw[:32]) == text.lower()


# --- private files ------------------------------------------------------------------------


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if missing, then refuse it if others can enter it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(path)
    return path


def check_private(path: Path) -> None:
    """Refuse a key file or folder that another user may read, enter or change.

    We do not silently chmod: a loose mode on a key means it may already have leaked,
    which the operator must know about.
    """
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise InsecureKeyFile(f"{path} is a symbolic link: key files must be plain files")
    if info.st_uid != os.geteuid():
        raise InsecureKeyFile(
            f"{path} belongs to uid {info.st_uid}, not to the user running iblagh-tor "
            f"(uid {os.geteuid()}): chown it to the service user"
        )
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        wanted = "700" if stat.S_ISDIR(info.st_mode) else "600"
        raise InsecureKeyFile(
            f"{path} has mode {mode:04o}: other users may read it. If they did, the key is "
            f"compromised; otherwise run: chmod {wanted} {path}"
        )


def write_private_file(path: Path, text: str) -> None:
    """Write a new 0600 file atomically; an existing file is never overwritten."""
    ensure_private_dir(path.parent)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(partial, path)  # fails if another process made the key first
    finally:
        partial.unlink()
    _fsync_dir(path.parent)


def read_private_file(path: Path) -> str:
    """Read a key file after checking it and its folder are private."""
    check_private(path.parent)
    check_private(path)
    return path.read_text(encoding="ascii")


def load_or_create_onion_key(path: Path) -> tuple[OnionKey, bool]:
    """The key stored at ``path``, made on first use; the flag says it was just made."""
    if not path.exists():
        try:
            write_private_file(path, OnionKey.generate().blob + "\n")
        except FileExistsError:
            pass  # another process won the race: use its key
        else:
            return load_onion_key(path), True
    return load_onion_key(path), False


def load_onion_key(path: Path) -> OnionKey:
    try:
        return OnionKey.from_blob(read_private_file(path))
    except MalformedKey as exc:
        raise MalformedKey(f"{path}: {exc}") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
