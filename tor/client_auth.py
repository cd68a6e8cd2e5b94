"""x25519 client keys for v3 onion client authorisation, in tor's own file formats.

With client authorisation the descriptor of the sync onion is encrypted to each
authorised client's x25519 key: without one of those keys, a client cannot even find
the service's introduction points. The public host only needs the public halves, one
``<name>.auth`` file each (the format of tor's ``authorized_clients/``); the officer
host keeps the private half in its tor's ``ClientOnionAuthDir`` as an
``.auth_private`` file. Both formats are base32 without padding, as tor writes them.
"""

import base64
import binascii
import re
from dataclasses import dataclass, field
from pathlib import Path

from nacl.public import PrivateKey

from tor.errors import MalformedKey
from tor.keys import is_service_id, read_private_file, write_private_file

AUTH_SUFFIX = ".auth"
AUTH_PRIVATE_SUFFIX = ".auth_private"
CLIENT_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def _from_b32(text: str) -> bytes:
    cleaned = text.strip().upper()
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except binascii.Error as exc:
        raise MalformedKey("an x25519 client key is 52 base32 characters") from exc
    if len(raw) != 32:
        raise MalformedKey("an x25519 client key is 52 base32 characters")
    return raw


@dataclass(frozen=True)
class ClientPublicKey:
    """What the service side holds for one authorised client."""

    raw: bytes

    @classmethod
    def from_base32(cls, text: str) -> "ClientPublicKey":
        return cls(_from_b32(text))

    @classmethod
    def from_auth_line(cls, line: str) -> "ClientPublicKey":
        """Parse ``descriptor:x25519:<base32>`` (tor's ``authorized_clients/*.auth``)."""
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[:2] != ["descriptor", "x25519"]:
            raise MalformedKey("a client auth line reads descriptor:x25519:<base32 key>")
        return cls.from_base32(parts[2])

    @property
    def base32(self) -> str:
        """The form ADD_ONION's ``ClientAuthV3=`` takes."""
        return _b32(self.raw)

    @property
    def auth_line(self) -> str:
        return f"descriptor:x25519:{self.base32}"


@dataclass(frozen=True)
class ClientPrivateKey:
    """What an officer host's tor holds to reach the sync onion."""

    raw: bytes = field(repr=False)

    @classmethod
    def generate(cls) -> "ClientPrivateKey":
        return cls(bytes(PrivateKey.generate()))

    @classmethod
    def from_base32(cls, text: str) -> "ClientPrivateKey":
        return cls(_from_b32(text))

    @property
    def public(self) -> ClientPublicKey:
        return ClientPublicKey(bytes(PrivateKey(self.raw).public_key))

    @property
    def base32(self) -> str:
        return _b32(self.raw)

    @property
    def base64(self) -> str:
        """The form of the control port's ``ONION_CLIENT_AUTH_ADD <id> x25519:<base64>``."""
        return base64.b64encode(self.raw).decode("ascii")

    def auth_private_line(self, service_id: str) -> str:
        """``<address>:descriptor:x25519:<base32>``, one file in ``ClientOnionAuthDir``."""
        service_id = service_id.removesuffix(".onion")
        if not is_service_id(service_id):
            raise MalformedKey(f"{service_id!r} is not a v3 onion address")
        return f"{service_id}:descriptor:x25519:{self.base32}"


def check_client_name(name: str) -> str:
    if not CLIENT_NAME.fullmatch(name):
        raise MalformedKey("a client name is 1-32 letters, digits, '-' or '_'")
    return name


def authorise_client(clients_dir: Path, name: str, key: ClientPublicKey) -> Path:
    """Record one authorised client as ``<name>.auth``; a name is never silently reused."""
    path = clients_dir / (check_client_name(name) + AUTH_SUFFIX)
    try:
        write_private_file(path, key.auth_line + "\n")
    except FileExistsError:
        raise MalformedKey(
            f"a client named {name!r} is already authorised: revoke it first or pick another name"
        ) from None
    return path


def revoke_client(clients_dir: Path, name: str) -> bool:
    """Remove one client; True when it existed."""
    path = clients_dir / (check_client_name(name) + AUTH_SUFFIX)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def authorised_clients(clients_dir: Path) -> dict[str, ClientPublicKey]:
    """Every ``<name>.auth`` in the folder, by name (permissions checked)."""
    if not clients_dir.exists():
        return {}
    clients = {}
    for path in sorted(clients_dir.glob("*" + AUTH_SUFFIX)):
        try:
            clients[path.stem] = ClientPublicKey.from_auth_line(read_private_file(path))
        except MalformedKey as exc:
            raise MalformedKey(f"{path}: {exc}") from exc
    return clients


def write_auth_private_file(path: Path, service_id: str, key: ClientPrivateKey) -> Path:
    """Write the officer host's ``.auth_private`` file (0600, never overwritten)."""
    if path.suffix != AUTH_PRIVATE_SUFFIX:
        raise MalformedKey(f"tor only reads client keys from files ending in {AUTH_PRIVATE_SUFFIX}")
    write_private_file(path, key.auth_private_line(service_id) + "\n")
    return path
