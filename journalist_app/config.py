"""The officer host's one configuration object, read from ``IBLAGH_*`` variables.

Everything the officer host writes lives under ``data_dir``, so backing up, wiping
or moving an installation is one folder. :class:`OfficerSettings` declares every
variable (docs/configuration.md is generated from it); :meth:`OfficerConfig.from_env`
reads and checks them. An unset or empty variable means its default, and a bad value
is one :class:`ConfigError` line naming the variable.
"""

import os
import re
import secrets
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gunicorn.errors import AppImportError
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from crypto.keys import WRAP_PARAMS_DEFAULT, WRAP_PARAMS_FAST, Argon2Params
from journalist_app.triage.categories import (
    CATEGORIES,
    CategoriesFileError,
    Category,
    load_categories,
)

DEFAULT_DATA_DIR = "./var/officer"
DEFAULT_SYNC_URL = "http://127.0.0.1:8081"
# Overall deadlines of one sync request and of one sync run (docs/sync-api.md, "Deadlines").
DEFAULT_SYNC_REQUEST_DEADLINE_SECONDS = 120.0
DEFAULT_SYNC_RUN_DEADLINE_SECONDS = 2 * 3600.0
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
_SOCKS = re.compile(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}")


class ConfigError(ValueError, AppImportError):  # type: ignore[misc]  # gunicorn is untyped
    """An ``IBLAGH_*`` variable has a value the officer host cannot use.

    An ``AppImportError`` because gunicorn builds the app in its worker: for this one
    class it prints the message alone and stops, instead of a traceback and a respawn.
    """


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
    sync_request_deadline_seconds: float = DEFAULT_SYNC_REQUEST_DEADLINE_SECONDS
    sync_run_deadline_seconds: float = DEFAULT_SYNC_RUN_DEADLINE_SECONDS
    # tor's SOCKS port ("127.0.0.1:9050") when the sync URL is the client-authorised onion.
    sync_socks: str = ""
    session_max_minutes: int = DEFAULT_SESSION_MAX_MINUTES
    # The report categories: the built-in set, or IBLAGH_CATEGORIES_FILE (docs/categories.md).
    categories: tuple[Category, ...] = CATEGORIES
    sync_max_blob_bytes: int = DEFAULT_SYNC_MAX_BLOB_BYTES
    sync_max_per_run: int = DEFAULT_SYNC_MAX_PER_RUN
    min_free_bytes: int = DEFAULT_MIN_FREE_BYTES
    # Refuse (leave on the public host) a submission whose blobs are not envelopes sealed
    # only to this unit's keys (journalist_app/sync/pull.py).
    sync_check_envelopes: bool = True
    # Minutes between scheduled syncs while an officer who holds the sync key is logged in;
    # 0: only the manual Sync button (journalist_app/sync/schedule.py).
    sync_interval_minutes: int = 0
    # Blobs in an S3-compatible bucket instead of data_dir/blobs (docs/operator.md).
    blob_url: str = ""
    blob_s3_endpoint: str = ""
    blob_s3_region: str = ""
    blob_s3_sse: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "OfficerConfig":
        """Read the configuration; unusable values raise :class:`ConfigError`."""
        settings = OfficerSettings.from_env(environ)
        data_dir = settings.data_dir.absolute()
        sync_url, sync_socks = settings.sync_url, settings.sync_socks
        if not sync_socks and (urllib.parse.urlsplit(sync_url).hostname or "").endswith(".onion"):
            raise ConfigError(
                "IBLAGH_SYNC_URL is an onion: set IBLAGH_SYNC_SOCKS (tor's SOCKS port)"
            )
        if sync_socks and not sync_url.startswith("http://"):
            raise ConfigError("with IBLAGH_SYNC_SOCKS, IBLAGH_SYNC_URL is http://<address>.onion")
        if settings.kdf == "fast" and not settings.testing:
            # Cheap passphrase hashing would let a stolen database be guessed quickly.
            raise ConfigError(
                "IBLAGH_KDF must be 'default': 'fast' is for test suites (IBLAGH_TESTING=1)"
            )
        return cls(
            data_dir=data_dir,
            database_url=settings.database_url or f"sqlite:///{data_dir}/officer.sqlite3",
            sync_url=sync_url,
            kdf=settings.kdf,
            session_minutes=settings.session_minutes,
            cookie_secure=settings.cookie_secure,
            sync_timeout_seconds=settings.sync_timeout_seconds,
            sync_request_deadline_seconds=settings.sync_request_deadline_seconds,
            sync_run_deadline_seconds=settings.sync_run_deadline_seconds,
            sync_socks=sync_socks,
            session_max_minutes=settings.session_max_minutes,
            categories=_categories(settings.categories_file),
            sync_max_blob_bytes=settings.sync_max_blob_bytes,
            sync_max_per_run=settings.sync_max_per_run,
            min_free_bytes=settings.min_free_bytes,
            sync_check_envelopes=settings.sync_check_envelopes,
            sync_interval_minutes=settings.sync_interval_minutes,
            blob_url=settings.blob_url,
            blob_s3_endpoint=settings.blob_s3_endpoint,
            blob_s3_region=settings.blob_s3_region,
            blob_s3_sse=settings.blob_s3_sse,
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


class OfficerSettings(BaseSettings):
    """The officer host's ``IBLAGH_*`` variables (``iblagh-officer`` and the officer app)."""

    model_config = SettingsConfigDict(env_prefix="IBLAGH_", env_ignore_empty=True)

    data_dir: Path = Field(
        Path(DEFAULT_DATA_DIR),
        description="Folder holding everything the officer host writes (created 0700).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy database URL (SQLite or PostgreSQL). "
        "Unset: `sqlite:///` + `officer.sqlite3` in the data dir.",
    )
    blob_url: str = Field(
        "",
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?)?$",
        description="`s3://bucket/prefix`: blobs in an S3-compatible bucket (credentials "
        "from boto3's usual AWS_* variables); empty: `blobs` in the data dir.",
    )
    blob_s3_endpoint: str = Field(
        "", description="The S3-compatible endpoint URL (MinIO, Ceph, ...); empty: AWS."
    )
    blob_s3_region: str = Field("", description="The bucket's region; empty: boto3's default.")
    blob_s3_sse: str = Field(
        "",
        description="Server-side encryption asked of the bucket (`AES256`, `aws:kms`); "
        "empty: none, the blobs being envelopes already.",
    )
    sync_url: str = Field(
        DEFAULT_SYNC_URL,
        description="The public host's sync listener (http:// or https://); through tor, "
        "`http://<address>.onion` with IBLAGH_SYNC_SOCKS.",
    )
    sync_socks: str = Field(
        OfficerConfig.sync_socks,
        description="tor's SOCKS port as HOST:PORT (e.g. `127.0.0.1:9050`); needed when "
        "IBLAGH_SYNC_URL is an onion. Empty: direct connection.",
    )
    sync_timeout_seconds: float = Field(
        OfficerConfig.sync_timeout_seconds,
        gt=0,
        allow_inf_nan=False,
        description="How long one sync request may wait for the public host (seconds).",
    )
    sync_request_deadline_seconds: float = Field(
        OfficerConfig.sync_request_deadline_seconds,
        gt=0,
        allow_inf_nan=False,
        description="The longest one sync request may take from start to last byte "
        "(seconds), however slowly the public host trickles; a blob's request gets one more "
        "second per 16 KiB listed.",
    )
    sync_run_deadline_seconds: float = Field(
        OfficerConfig.sync_run_deadline_seconds,
        gt=0,
        allow_inf_nan=False,
        description="The longest one whole sync run may talk to the public host (seconds); "
        "what was stored is kept and the next run resumes.",
    )
    sync_max_blob_bytes: int = Field(
        OfficerConfig.sync_max_blob_bytes,
        ge=1,
        description="A listed blob larger than this is refused and left on the public host.",
    )
    sync_max_per_run: int = Field(
        OfficerConfig.sync_max_per_run,
        ge=1,
        description="Submissions stored per sync run; the rest wait for the next run.",
    )
    min_free_bytes: int = Field(
        OfficerConfig.min_free_bytes,
        ge=0,
        description="No blob is started that would leave less free space in the data dir.",
    )
    sync_check_envelopes: bool = Field(
        OfficerConfig.sync_check_envelopes,
        description="Refuse, and leave on the public host, a submission whose blobs are not "
        "envelopes sealed only to this unit's keys.",
    )
    sync_interval_minutes: int = Field(
        OfficerConfig.sync_interval_minutes,
        ge=0,
        le=24 * 60,
        description="Minutes between scheduled syncs, run while an officer who holds the "
        "sync key is logged in (the keys are only in memory then); 0: only the Sync button.",
    )
    session_minutes: int = Field(
        OfficerConfig.session_minutes,
        ge=1,
        description="An idle officer session ends after this many minutes.",
    )
    session_max_minutes: int = Field(
        OfficerConfig.session_max_minutes,
        ge=1,
        description="However active, a session ends after this many minutes.",
    )
    cookie_secure: bool = Field(
        OfficerConfig.cookie_secure,
        description="The officer app is served over HTTPS: mark its session cookie `Secure`.",
    )
    kdf: Literal["default", "fast"] = Field(
        "default",
        description="argon2id cost of officer passphrases; `fast` only with IBLAGH_TESTING.",
    )
    categories_file: Path | None = Field(
        None,
        description="JSON file of report categories (docs/categories.md); the same file on "
        "both hosts. Unset: the built-in set.",
    )
    testing: bool = Field(
        False,
        description="Test suites only: allows IBLAGH_KDF=fast. Never set on a real host.",
    )

    @field_validator("sync_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("sync_socks")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value and not _SOCKS.fullmatch(value):
            raise ValueError("must be HOST:PORT, e.g. 127.0.0.1:9050")
        return value

    @classmethod
    def settings_customise_sources(cls, *_args: Any, **_kwargs: Any) -> tuple[()]:
        # Nothing is read behind from_env's back: not os.environ, not a .env file.
        return ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "OfficerSettings":
        """The variables in ``environ``; a bad value raises one-line :class:`ConfigError`."""
        try:
            return cls(**_reading_only(_Environment(cls, environ)))
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None


class PassphraseSettings(BaseSettings):
    """Passphrases a script may give ``iblagh-officer`` instead of typing them.

    Read when a command asks, never kept on :class:`OfficerConfig`: the config object
    is passed everywhere, and a passphrase must not ride along into a log or a page.
    """

    model_config = SettingsConfigDict(env_prefix="IBLAGH_", env_ignore_empty=True)

    officer_passphrase: SecretStr | None = Field(
        None,
        description="`iblagh-officer`: your passphrase, for a script; unset: asked at the prompt.",
    )
    new_officer_passphrase: SecretStr | None = Field(
        None,
        description="`iblagh-officer`: a new passphrase being set, for a script; "
        "unset: asked twice at the prompt.",
    )

    @classmethod
    def settings_customise_sources(cls, *_args: Any, **_kwargs: Any) -> tuple[()]:
        return ()


def passphrase_from_env(name: str, environ: Mapping[str, str] | None = None) -> str:
    """The passphrase in variable ``name`` (a :class:`PassphraseSettings` one), or ``""``."""
    given = os.environ if environ is None else environ
    source = _Environment(PassphraseSettings, given, strip=False)
    settings = PassphraseSettings(**_reading_only(source))
    secret: SecretStr | None = getattr(settings, name.removeprefix("IBLAGH_").lower())
    return "" if secret is None else secret.get_secret_value()


class _Environment(EnvSettingsSource):
    """The variables of a given mapping; blank means unset, so the default applies."""

    def __init__(
        self, settings: type[BaseSettings], environ: Mapping[str, str], *, strip: bool = True
    ) -> None:
        self._given = {
            name.lower(): value.strip() if strip else value
            for name, value in environ.items()
            if value.strip()
        }
        super().__init__(settings)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return dict(self._given)


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
        if kind == "value_error":
            lines.append(f"{name} {limits['error']}")
            continue
        if kind == "greater_than_equal":
            allowed = f"at least {limits['ge']}"
        elif kind == "greater_than":
            allowed = f"more than {limits['gt']}"
        elif kind.startswith("int_"):
            allowed = "a whole number"
        elif kind.startswith("float_") or kind == "finite_number":
            allowed = "a number"
        elif kind.startswith("bool_"):
            allowed = "1 or 0 (or true/false, yes/no, on/off)"
        elif kind == "literal_error":
            allowed = limits["expected"]
        else:
            lines.append(f"{name}: {error['msg']}")
            continue
        lines.append(f"{name} must be {allowed}, not {error['input']!r}")
    return "; ".join(lines)


def _categories(path: Path | None) -> tuple[Category, ...]:
    """The configured categories, checked now so that a mistake stops the host at start-up."""
    if path is None:
        return CATEGORIES
    try:
        return load_categories(path)
    except CategoriesFileError as exc:
        raise ConfigError(f"IBLAGH_CATEGORIES_FILE ({path}): {exc}") from None


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
