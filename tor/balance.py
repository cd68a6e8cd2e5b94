"""OnionBalance (v3): one public onion address in front of several onion backends.

Each public replica publishes its own *backend* onion from a ``HiddenServiceDir`` with
``HiddenServiceOnionBalanceInstance 1`` and an ``ob_config`` file naming the frontend
(``MasterOnionAddress``). OnionBalance, on the host that holds the frontend key, fetches
the backends' descriptors and publishes the frontend's, listing their introduction
points: a reporter who opens the frontend address reaches one of the replicas.

The frontend key is the public onion's key (``tor/public-onion.key``), so reporters keep
the address they know. OnionBalance reads it in tor's own secret-key file format, which
holds the same expanded key our key file does: no key is made or converted on the way.

What is written, all under one 0700 folder (``tor/onionbalance/`` by default):

- ``config.yaml`` — OnionBalance's configuration (``services: - key: instances:``);
- ``<frontend>.key`` — the frontend key for OnionBalance, 0600;
- ``backend/torrc`` and ``backend/ob_config`` — what each replica's tor needs.
"""

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tor.errors import BadArguments, MalformedKey
from tor.keys import (
    OnionKey,
    check_private,
    ensure_private_dir,
    is_service_id,
)

# OnionBalance v3 keeps every backend's intro points in one descriptor: it documents a
# limit of 8 backends (no "distinct descriptor" mode, onionbalance issue 7).
MAX_BACKENDS = 8
MIN_BACKENDS = 1
# tor's hs_ed25519_secret_key file: a 32-byte header, then the 64-byte expanded key.
TOR_SECRET_KEY_HEADER = b"== ed25519v1-secret: type0 ==\x00\x00\x00"
CONFIG_NAME = "config.yaml"
BACKEND_DIR = "backend"
OB_CONFIG_NAME = "ob_config"
DEFAULT_BACKEND_HS_DIR = "/var/lib/tor/iblagh-public/"


@dataclass(frozen=True)
class BalanceFiles:
    """Where the configuration went, and the addresses it names (without ``.onion``)."""

    frontend: str
    backends: tuple[str, ...]
    config: Path
    key: Path
    backend_torrc: Path
    ob_config: Path
    key_created: bool


# --- input -----------------------------------------------------------------------------


def parse_onion_address(text: str, where: str) -> str:
    """A backend's service id from ``abc….onion``, a bare id or an ``http://….onion/`` URL.

    ``where`` names the argument or file in the one-line error.
    """
    address = text.strip().lower()
    address = address.removeprefix("http://").removeprefix("https://").rstrip("/")
    address = address.removesuffix(".onion")
    if not is_service_id(address):
        raise BadArguments(
            f"{where}: {text.strip()!r} is not a v3 onion address (56 letters a-z and "
            "digits 2-7 ending in 'd', with a valid checksum)"
        )
    return address


def read_hostname_file(path: Path) -> str:
    """The address in a backend tor's ``HiddenServiceDir/hostname`` file."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadArguments(f"cannot read the hostname file {path}: {exc}") from None
    return parse_onion_address(text, str(path))


def check_backends(backends: Sequence[str], frontend: str) -> tuple[str, ...]:
    """Refuse what OnionBalance would refuse or mishandle, before anything is written."""
    if len(backends) < MIN_BACKENDS:
        raise BadArguments(
            "no backend: give each replica's onion with --backend ADDRESS or "
            "--backend-hostname FILE"
        )
    if len(backends) > MAX_BACKENDS:
        raise BadArguments(
            f"{len(backends)} backends: OnionBalance v3 takes at most {MAX_BACKENDS} "
            "(one descriptor holds them all)"
        )
    seen: set[str] = set()
    for address in backends:
        if address in seen:
            raise BadArguments(f"{address}.onion is given twice: each backend once")
        seen.add(address)
    if frontend in seen:
        raise BadArguments(
            f"{frontend}.onion is the frontend (the public onion) itself: a backend is a "
            "replica's own onion, from its HiddenServiceDir/hostname"
        )
    return tuple(backends)


# --- output ----------------------------------------------------------------------------


def tor_secret_key_file(key: OnionKey) -> bytes:
    """``key`` as tor's ``hs_ed25519_secret_key`` file, which OnionBalance loads as is."""
    return TOR_SECRET_KEY_HEADER + key.expanded


def onionbalance_yaml(key_file: str, backends: Iterable[str]) -> str:
    """OnionBalance 0.2's ``config.yaml``; ``key_file`` is relative to the file's folder.

    Written by hand rather than through a YAML library: every value is a file name or an
    onion address, neither of which needs quoting.
    """
    lines = [
        "# OnionBalance (v3) configuration, written by 'iblagh-tor balance-config'.",
        "# The key below is the public onion's: keep this folder 0700, the key 0600.",
        "services:",
        f"- key: {key_file}",
        "  instances:",
    ]
    for index, address in enumerate(backends, start=1):
        lines += [f"  - address: {address}.onion", f"    name: backend{index}"]
    return "\n".join(lines) + "\n"


def ob_config_text(frontend: str) -> str:
    """The ``ob_config`` file tor reads in an OnionBalance instance's HiddenServiceDir."""
    return f"MasterOnionAddress {frontend}.onion\n"


def backend_torrc_lines(hs_dir: str, target: str, virtual_port: int = 80) -> list[str]:
    """The HiddenService block of one replica's torrc; ``target`` is its site's listener."""
    return [
        f"HiddenServiceDir {hs_dir}",
        f"HiddenServicePort {virtual_port} {target}",
        "HiddenServiceOnionBalanceInstance 1",
    ]


def write_balance_config(
    out_dir: Path,
    frontend_key: OnionKey,
    backends: Sequence[str],
    *,
    backend_hs_dir: str = DEFAULT_BACKEND_HS_DIR,
    backend_target: str = "127.0.0.1:8080",
) -> BalanceFiles:
    """Write OnionBalance's files for ``frontend_key`` in front of ``backends``.

    The key file is made once and then only checked: a different frontend key already
    in ``out_dir`` is refused rather than replaced, since it may be an address in use.
    The configuration files are rewritten, so adding a backend is running this again.
    """
    frontend = frontend_key.service_id
    checked = check_backends(backends, frontend)
    ensure_private_dir(out_dir)
    key_path = out_dir / f"{frontend}.key"
    others = sorted(p.name for p in out_dir.glob("*.key") if p != key_path)
    if others:
        raise MalformedKey(
            f"{out_dir} already holds another frontend key ({', '.join(others)}): "
            "move it away (it may be an address in use) or choose another --out"
        )
    key_created = _write_key_once(key_path, frontend_key)
    config_path = out_dir / CONFIG_NAME
    _replace_private_file(config_path, onionbalance_yaml(key_path.name, checked))
    backend_dir = ensure_private_dir(out_dir / BACKEND_DIR)
    ob_config_path = backend_dir / OB_CONFIG_NAME
    _replace_private_file(ob_config_path, ob_config_text(frontend))
    torrc_path = backend_dir / "torrc"
    torrc = [
        "# On each replica, in tor's torrc; then put ob_config (beside this file) into",
        f"# {backend_hs_dir} (owner debian-tor, 0600) and restart tor.",
        *backend_torrc_lines(backend_hs_dir, backend_target),
    ]
    _replace_private_file(torrc_path, "\n".join(torrc) + "\n")
    return BalanceFiles(
        frontend=frontend,
        backends=checked,
        config=config_path,
        key=key_path,
        backend_torrc=torrc_path,
        ob_config=ob_config_path,
        key_created=key_created,
    )


def _write_key_once(path: Path, key: OnionKey) -> bool:
    """Write the key file if missing (0600, atomic, never over another); True if now."""
    content = tor_secret_key_file(key)
    if path.exists():
        check_private(path)
        if path.read_bytes() != content:
            raise MalformedKey(f"{path} is not the public onion's key: move it away and run again")
        return False
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    try:
        os.link(partial, path)  # fails if another run wrote it meanwhile
    finally:
        partial.unlink()
    return True


def _replace_private_file(path: Path, content: str | bytes) -> None:
    """Write ``path`` 0600 through a temporary file and a rename (readers see old or new)."""
    data = content.encode("ascii") if isinstance(content, str) else content
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
