"""The onion layer's configuration, read once from ``IBLAGH_*`` environment variables.

Variables (all optional):

- ``IBLAGH_DATA_DIR`` (``var/source``): the public host's data dir; the onion keys
  live in ``tor/`` under it.
- ``IBLAGH_TOR_BINARY`` (``tor``): the tor to launch.
- ``IBLAGH_TOR_CONTROL`` (empty): attach to a running tor at ``unix:/run/tor/control``
  or ``127.0.0.1:9051`` instead of launching one.
- ``IBLAGH_TOR_PUBLIC_TARGET`` (``127.0.0.1:8080``) and ``IBLAGH_TOR_SYNC_TARGET``
  (``127.0.0.1:8081``): where the public site and the sync listener listen; a
  ``unix:/path`` socket works too.
- ``IBLAGH_TOR_POW`` (``1``), ``IBLAGH_TOR_POW_QUEUE_RATE`` (``250``),
  ``IBLAGH_TOR_POW_QUEUE_BURST`` (``2500``): the proof-of-work defence of the public
  onion.
- ``IBLAGH_TOR_TORRC_INCLUDE`` (empty): a file or folder of torrc lines that a
  launched tor reads first (``%include``); the settings iblagh-tor writes win.
- ``IBLAGH_TOR_DISABLE_NETWORK`` (``0``): a launched tor publishes without contacting
  the Tor network (tests, dry runs).
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tor.errors import TorConfigError

DEFAULT_DATA_DIR = "var/source"
DEFAULT_PUBLIC_TARGET = "127.0.0.1:8080"
DEFAULT_SYNC_TARGET = "127.0.0.1:8081"
# tor's own defaults for HiddenServicePoWQueueRate / HiddenServicePoWQueueBurst.
DEFAULT_POW_QUEUE_RATE = 250
DEFAULT_POW_QUEUE_BURST = 2500
MAX_POW_QUEUE = 2**31 - 1  # tor refuses larger values
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class PowSettings:
    """The onion-service proof-of-work defence (tor's PoWDefensesEnabled and its queue).

    Under an introduction flood, tor serves first the clients that solved the biggest
    puzzle; Tor Browser solves it without the reporter doing anything.
    """

    enabled: bool = True
    queue_rate: int = DEFAULT_POW_QUEUE_RATE
    queue_burst: int = DEFAULT_POW_QUEUE_BURST


@dataclass(frozen=True)
class TorConfig:
    """Everything ``iblagh-tor`` needs; every file it writes lies under ``tor_dir``."""

    data_dir: Path
    tor_binary: str = "tor"
    control: str = ""
    public_target: str = DEFAULT_PUBLIC_TARGET
    sync_target: str = DEFAULT_SYNC_TARGET
    pow: PowSettings = field(default_factory=PowSettings)
    disable_network: bool = False
    torrc_include: str = ""

    @property
    def tor_dir(self) -> Path:
        return self.data_dir / "tor"

    @property
    def public_key_path(self) -> Path:
        return self.tor_dir / "public-onion.key"

    @property
    def sync_key_path(self) -> Path:
        return self.tor_dir / "sync-onion.key"

    @property
    def clients_dir(self) -> Path:
        """Public halves of the officer hosts' client keys, one ``<name>.auth`` each."""
        return self.tor_dir / "sync-clients"

    @property
    def launched_dir(self) -> Path:
        """torrc, DataDirectory and log of the tor that ``iblagh-tor serve`` launches."""
        return self.tor_dir / "run"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "TorConfig":
        env = os.environ if environ is None else environ
        return cls(
            data_dir=Path(env.get("IBLAGH_DATA_DIR") or DEFAULT_DATA_DIR).absolute(),
            tor_binary=env.get("IBLAGH_TOR_BINARY") or "tor",
            control=check_control(env.get("IBLAGH_TOR_CONTROL", "").strip()),
            public_target=_target(env, "IBLAGH_TOR_PUBLIC_TARGET", DEFAULT_PUBLIC_TARGET),
            sync_target=_target(env, "IBLAGH_TOR_SYNC_TARGET", DEFAULT_SYNC_TARGET),
            pow=PowSettings(
                enabled=_boolean(env, "IBLAGH_TOR_POW", default=True),
                queue_rate=_positive_int(env, "IBLAGH_TOR_POW_QUEUE_RATE", DEFAULT_POW_QUEUE_RATE),
                queue_burst=_positive_int(
                    env, "IBLAGH_TOR_POW_QUEUE_BURST", DEFAULT_POW_QUEUE_BURST
                ),
            ),
            disable_network=_boolean(env, "IBLAGH_TOR_DISABLE_NETWORK", default=False),
            torrc_include=_include(env.get("IBLAGH_TOR_TORRC_INCLUDE", "").strip()),
        )


def check_target(name: str, value: str) -> str:
    """A loopback ``host:port`` or ``unix:/absolute/path``: the apps never listen elsewhere."""
    if value.startswith("unix:"):
        if not value[5:].startswith("/"):
            raise TorConfigError(f"{name} must be unix:/absolute/path")
        return value
    host, port = split_host_port(name, value)
    if not ipaddress.ip_address(host).is_loopback:
        raise TorConfigError(f"{name} must be on loopback (127.0.0.1), not {host}")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def check_control(value: str) -> str:
    """Empty (launch our own tor), ``unix:/path`` or a loopback ``host:port``."""
    if not value:
        return ""
    return check_target("IBLAGH_TOR_CONTROL", value)


def split_host_port(name: str, value: str) -> tuple[str, int]:
    """``127.0.0.1:9050`` or ``[::1]:9050`` → (host, port); an IP address, not a name."""
    host, sep, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise TorConfigError(f"{name} must be IP:PORT, e.g. 127.0.0.1:9050") from None
    if not sep or not 0 < port < 65536:
        raise TorConfigError(f"{name} must be IP:PORT, e.g. 127.0.0.1:9050")
    return host, port


def _include(value: str) -> str:
    if value and not Path(value).is_absolute():
        raise TorConfigError("IBLAGH_TOR_TORRC_INCLUDE must be an absolute path")
    if value and not Path(value).exists():
        raise TorConfigError(f"IBLAGH_TOR_TORRC_INCLUDE names {value}, which does not exist")
    return value


def _target(env: Mapping[str, str], name: str, default: str) -> str:
    return check_target(name, env.get(name, "").strip() or default)


def _boolean(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise TorConfigError(f"{name} must be 1 or 0")


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise TorConfigError(f"{name} must be a whole number") from None
    if not 1 <= value <= MAX_POW_QUEUE:
        raise TorConfigError(f"{name} must be at least 1 and at most {MAX_POW_QUEUE}")
    return value
