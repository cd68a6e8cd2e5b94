"""The onion layer's configuration, read once from ``IBLAGH_*`` environment variables.

:class:`TorSettings` declares every variable ``iblagh-tor`` reads (docs/configuration.md
is generated from it); :meth:`TorConfig.from_env` reads and checks them. An unset or
empty variable means its default; a bad value is one :class:`TorConfigError` line
naming the variable.
"""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from tor.errors import TorConfigError

DEFAULT_DATA_DIR = "var/source"
DEFAULT_PUBLIC_TARGET = "127.0.0.1:8080"
DEFAULT_SYNC_TARGET = "127.0.0.1:8081"
# tor's own defaults for HiddenServicePoWQueueRate / HiddenServicePoWQueueBurst.
DEFAULT_POW_QUEUE_RATE = 250
DEFAULT_POW_QUEUE_BURST = 2500
MAX_POW_QUEUE = 2**31 - 1  # tor refuses larger values


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
    publish_public: bool = True

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
    def balance_dir(self) -> Path:
        """OnionBalance's configuration and frontend key (``iblagh-tor balance-config``)."""
        return self.tor_dir / "onionbalance"

    @property
    def launched_dir(self) -> Path:
        """torrc, DataDirectory and log of the tor that ``iblagh-tor serve`` launches."""
        return self.tor_dir / "run"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "TorConfig":
        """Read and check the ``IBLAGH_*`` variables (``os.environ`` when not given)."""
        settings = TorSettings.from_env(os.environ if environ is None else environ)
        return cls(
            data_dir=settings.data_dir.absolute(),
            tor_binary=settings.tor_binary,
            control=settings.tor_control,
            public_target=settings.tor_public_target,
            sync_target=settings.tor_sync_target,
            pow=PowSettings(
                enabled=settings.tor_pow,
                queue_rate=settings.tor_pow_queue_rate,
                queue_burst=settings.tor_pow_queue_burst,
            ),
            disable_network=settings.tor_disable_network,
            torrc_include=settings.tor_torrc_include,
            publish_public=settings.tor_public_onion,
        )


class TorSettings(BaseSettings):
    """The ``IBLAGH_*`` variables of ``iblagh-tor`` (on the public host)."""

    model_config = SettingsConfigDict(env_prefix="IBLAGH_", env_ignore_empty=True)

    data_dir: Path = Field(
        Path(DEFAULT_DATA_DIR),
        description="The public host's data dir; the onion keys live in `tor/` under it.",
    )
    tor_binary: str = Field(TorConfig.tor_binary, description="The tor program to launch.")
    tor_control: str = Field(
        TorConfig.control,
        description="Attach to a running tor at `unix:/run/tor/control` or a loopback "
        "`127.0.0.1:9051` instead of launching one. Empty: launch our own.",
    )
    tor_public_target: str = Field(
        TorConfig.public_target,
        description="Where the public site listens: loopback IP:PORT or `unix:/absolute/path`.",
    )
    tor_sync_target: str = Field(
        TorConfig.sync_target,
        description="Where the sync listener listens: loopback IP:PORT or `unix:/absolute/path`.",
    )
    tor_pow: bool = Field(
        PowSettings.enabled,
        description="The proof-of-work defence of the public onion against floods.",
    )
    tor_pow_queue_rate: int = Field(
        PowSettings.queue_rate,
        ge=1,
        le=MAX_POW_QUEUE,
        description="tor's HiddenServicePoWQueueRate: introductions served per second.",
    )
    tor_pow_queue_burst: int = Field(
        PowSettings.queue_burst,
        ge=1,
        le=MAX_POW_QUEUE,
        description="tor's HiddenServicePoWQueueBurst: introductions served in a burst.",
    )
    tor_torrc_include: str = Field(
        TorConfig.torrc_include,
        description="Absolute path of a file or folder of torrc lines a launched tor reads "
        "first (`%include`); the settings iblagh-tor writes win. Empty: none.",
    )
    tor_public_onion: bool = Field(
        TorConfig.publish_public,
        description="`iblagh-tor serve` publishes the public onion. 0 where OnionBalance "
        "publishes it in front of several replicas (docs/operator.md §12.7): then only the "
        "sync onion is published here.",
    )
    tor_disable_network: bool = Field(
        TorConfig.disable_network,
        description="A launched tor publishes without contacting the Tor network "
        "(tests, dry runs).",
    )

    @field_validator("tor_control")
    @classmethod
    def _control(cls, value: str) -> str:
        return check_control(value)

    @field_validator("tor_public_target", "tor_sync_target")
    @classmethod
    def _target(cls, value: str, info: Any) -> str:
        return check_target(f"IBLAGH_{info.field_name.upper()}", value)

    @field_validator("tor_torrc_include")
    @classmethod
    def _include(cls, value: str) -> str:
        if value and not Path(value).is_absolute():
            raise TorConfigError("IBLAGH_TOR_TORRC_INCLUDE must be an absolute path")
        if value and not Path(value).exists():
            raise TorConfigError(f"IBLAGH_TOR_TORRC_INCLUDE names {value}, which does not exist")
        return value

    @classmethod
    def settings_customise_sources(cls, *_args: Any, **_kwargs: Any) -> tuple[()]:
        # Nothing is read behind from_env's back: not os.environ, not a .env file.
        return ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "TorSettings":
        """The variables in ``environ``; a bad value raises one-line :class:`TorConfigError`.

        The address checks raise :class:`TorConfigError` themselves (pydantic lets it
        through); type and range mistakes come back from pydantic and are worded here.
        """
        try:
            return cls(**_reading_only(_Environment(cls, environ)))
        except ValidationError as exc:
            raise TorConfigError(_one_line(exc)) from None


class _Environment(EnvSettingsSource):
    """The variables of a given mapping; blank means unset, so the default applies."""

    def __init__(self, settings: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = {name.lower(): value.strip() for name, value in environ.items()}
        super().__init__(settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name: value for name, value in self._given.items() if value}


def _reading_only(source: EnvSettingsSource) -> dict[str, Any]:
    """Settings arguments that read ``source`` and nothing else (typed apart for mypy)."""
    return {"_build_sources": ((source,), {})}


def _one_line(exc: ValidationError) -> str:
    """pydantic's report as one line, naming each variable and what it accepts."""
    lines = []
    for error in exc.errors(include_url=False):
        name = "IBLAGH_" + "_".join(str(part) for part in error["loc"]).upper()
        limits = error.get("ctx", {})
        kind = error["type"]
        if kind == "greater_than_equal":
            allowed = f"at least {limits['ge']}"
        elif kind == "less_than_equal":
            allowed = f"at most {limits['le']}"
        elif kind.startswith("int_"):
            allowed = "a whole number"
        elif kind.startswith("bool_"):
            allowed = "1 or 0 (or true/false, yes/no, on/off)"
        else:
            lines.append(f"{name}: {error['msg']}")
            continue
        lines.append(f"{name} must be {allowed}, not {error['input']!r}")
    return "; ".join(lines)


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
