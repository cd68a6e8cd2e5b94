"""The officer host's one configuration object, read from ``IBLAGH_*`` variables.

Everything the officer host writes lives under ``data_dir``, so backing up, wiping
or moving an installation is one folder.
"""

import os
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crypto.keys import WRAP_PARAMS_DEFAULT, WRAP_PARAMS_FAST, Argon2Params
from journalist_app.triage.categories import (
    CATEGORIES,
    CategoriesFileError,
    Category,
    load_categories,
)

DEFAULT_DATA_DIR = "./var/officer"
DEFAULT_SYNC_URL = "http://127.0.0.1:8081"
DEFAULT_SESSION_MINUTES = 30
# However active, a session ends after this long: the officer logs in (and unlocks) again.
DEFAULT_SESSION_MAX_MINUTES = 8 * 60
# Limits of one sync run (docs/sync-api.md): the officer host never trusts the public
# host, so a compromised one cannot fill this host's disk. The public host accepts at most
# 500 MiB of attachments per report; a blob larger than this is refused, not stored.
DEFAULT_SYNC_MAX_BLOB_BYTES = 600 * 1024 * 1024
# Submissions stored per sync run; the rest wait on the public host for the next run.
DEFAULT_SYNC_MAX_PER_RUN = 5000
# No blob is started when the data dir's filesystem would be left with less than this.
DEFAULT_MIN_FREE_BYTES = 1024 * 1024 * 1024
SECRET_KEY_FILE = "flask-secret-key"  # noqa: S105 (a file name)
_KDF_CHOICES = {"default": WRAP_PARAMS_DEFAULT, "fast": WRAP_PARAMS_FAST}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SOCKS = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")


class ConfigError(ValueError):
    """An ``IBLAGH_*`` variable has a value the officer host cannot use."""


@dataclass(frozen=True)
class OfficerConfig:
    """Settings of the officer application and CLI."""

    data_dir: Path
    database_url: str
    sync_url: str
    kdf: str = "default"
    session_minutes: int = DEFAULT_SESSION_MINUTES
    cookie_secure: bool = False
    sync_timeout_seconds: float = 30.0
    # tor's SOCKS port ("127.0.0.1:9050") when the sync URL is the client-authorised onion.
    sync_socks: str = ""
    session_max_minutes: int = DEFAULT_SESSION_MAX_MINUTES
    # The report categories: the built-in set, or IBLAGH_CATEGORIES_FILE (docs/categories.md).
    categories: tuple[Category, ...] = CATEGORIES
    sync_max_blob_bytes: int = DEFAULT_SYNC_MAX_BLOB_BYTES
    sync_max_per_run: int = DEFAULT_SYNC_MAX_PER_RUN
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
    # Refuse (leave on the public host) a submission whose blobs are not envelopes sealed
    # only to this unit's keys. Off by default for now: see journalist_app/sync/pull.py.
    sync_check_envelopes: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "OfficerConfig":
        """Read the configuration; unknown values raise :class:`ConfigError`."""
        data_dir = Path(environ.get("IBLAGH_DATA_DIR") or DEFAULT_DATA_DIR).absolute()
        database_url = environ.get("IBLAGH_DATABASE_URL") or f"sqlite:///{data_dir}/officer.sqlite3"
        sync_url = (environ.get("IBLAGH_SYNC_URL") or DEFAULT_SYNC_URL).rstrip("/")
        if not sync_url.startswith(("http://", "https://")):
            raise ConfigError("IBLAGH_SYNC_URL must be an http:// or https:// URL")
        sync_socks = (environ.get("IBLAGH_SYNC_SOCKS") or "").strip()
        if sync_socks and not _SOCKS.fullmatch(sync_socks):
            raise ConfigError("IBLAGH_SYNC_SOCKS must be HOST:PORT, e.g. 127.0.0.1:9050")
        if not sync_socks and (urllib.parse.urlsplit(sync_url).hostname or "").endswith(".onion"):
            raise ConfigError(
                "IBLAGH_SYNC_URL is an onion: set IBLAGH_SYNC_SOCKS (tor's SOCKS port)"
            )
        if sync_socks and not sync_url.startswith("http://"):
            raise ConfigError("with IBLAGH_SYNC_SOCKS, IBLAGH_SYNC_URL is http://<address>.onion")
        kdf = environ.get("IBLAGH_KDF") or "default"
        if kdf not in _KDF_CHOICES:
            raise ConfigError("IBLAGH_KDF must be 'default' or 'fast'")
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            sync_url=sync_url,
            kdf=kdf,
            session_minutes=_positive_int(
                environ, "IBLAGH_SESSION_MINUTES", DEFAULT_SESSION_MINUTES
            ),
            cookie_secure=_boolean(environ, "IBLAGH_COOKIE_SECURE"),
            session_max_minutes=_positive_int(
                environ, "IBLAGH_SESSION_MAX_MINUTES", DEFAULT_SESSION_MAX_MINUTES
            ),
            sync_socks=sync_socks,
            categories=_categories(environ),
            sync_max_blob_bytes=_positive_int(
                environ, "IBLAGH_SYNC_MAX_BLOB_BYTES", DEFAULT_SYNC_MAX_BLOB_BYTES
            ),
            sync_max_per_run=_positive_int(
                environ, "IBLAGH_SYNC_MAX_PER_RUN", DEFAULT_SYNC_MAX_PER_RUN
            ),
            min_free_bytes=_non_negative_int(
                environ, "IBLAGH_MIN_FREE_BYTES", DEFAULT_MIN_FREE_BYTES
            ),
            sync_check_envelopes=_boolean(environ, "IBLAGH_SYNC_CHECK_ENVELOPES", default=True),
        )

    @property
    def wrap_params(self) -> Argon2Params:
        """argon2id cost for officer passphrases; ``fast`` is for tests only."""
        return _KDF_CHOICES[self.kdf]

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def ensure_data_dir(self) -> Path:
        """Create the data folder readable by this user only."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.data_dir


def _int_at_least(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number") from exc
    if value < minimum:
        raise ConfigError(
            f"{name} must be {'0 or more' if minimum == 0 else f'at least {minimum}'}"
        )
    return value


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return _int_at_least(environ, name, default, 1)


def _non_negative_int(environ: Mapping[str, str], name: str, default: int) -> int:
    return _int_at_least(environ, name, default, 0)


def _categories(environ: Mapping[str, str]) -> tuple[Category, ...]:
    """The configured categories, checked now so that a mistake stops the host at start-up."""
    raw = (environ.get("IBLAGH_CATEGORIES_FILE") or "").strip()
    if not raw:
        return CATEGORIES
    try:
        return load_categories(Path(raw))
    except CategoriesFileError as exc:
        raise ConfigError(f"IBLAGH_CATEGORIES_FILE ({raw}): {exc}") from None


def _boolean(environ: Mapping[str, str], name: str, default: bool = False) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0")


def load_or_create_secret_key(config: OfficerConfig) -> bytes:
    """The Flask session key: made once, kept in a 0600 file so restarts keep sessions signed."""
    path = config.ensure_data_dir() / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise ConfigError(f"{path} is damaged: delete it to make a new one") from None
        return key
    key = secrets.token_bytes(64)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key
