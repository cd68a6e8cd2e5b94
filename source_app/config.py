"""Configuration of the public host, read once from ``IBLAGH_*`` environment variables.

:class:`SourceSettings` declares every variable (docs/configuration.md is generated from
it); :meth:`SourceConfig.from_env` reads them, checks them, and returns the frozen
:class:`SourceConfig` the rest of the host uses. An unset or empty variable means its
default, and a bad value stops the host with one line naming the variable.
"""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gunicorn.errors import AppImportError
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from crypto.sync_api import MAX_ATTACHMENTS
from source_app.categories import (
    DEFAULT_CATEGORIES,
    CategoriesFileError,
    Category,
    load_categories,
)

DEFAULT_DATA_DIR = "var/source"


class ConfigError(AppImportError):  # type: ignore[misc]  # gunicorn is untyped
    """The public host cannot start as configured; the message says what to fix.

    An ``AppImportError`` because gunicorn builds the app in each worker: for this one
    class it prints the message alone and stops, instead of a traceback and a respawn.
    """


@dataclass(frozen=True)
class SourceConfig:
    """Everything the public host needs; every path it writes lies under ``data_dir``."""

    data_dir: Path
    database_url: str
    blob_dir: Path
    recipient_set_path: Path
    unit_verify_key: str
    secret_key: bytes = field(repr=False)
    max_request_bytes: int = 1024 * 1024
    max_sync_request_bytes: int = 2 * 1024 * 1024
    # Attachments of one report or follow-up, all files together (500 MiB).
    max_upload_bytes: int = 500 * 1024 * 1024
    max_attachments: int = 10
    # Under this much free space in the blob store, files are refused (507).
    min_free_bytes: int = 1024 * 1024 * 1024
    # Per worker process, or per deployment with Redis (docs/threat-model.md, "Abuse
    # without tracking"): sized to what argon2id lets two cores do, not to shut the door.
    submissions_per_minute: int = 1200
    code_attempts_per_minute: int = 600
    code_attempts_per_session: int = 10
    file_submissions_per_minute: int = 120
    argon2_concurrency: int = 2
    argon2_reserved_for_reports: int = 1
    argon2_wait_seconds: int = 3
    # Shared limits, nonces and slots in Redis (source_app/shared_state.py); empty: in memory.
    redis_url: str = field(default="", repr=False)
    orphan_grace_seconds: int = 3600
    # Resumable uploads of the browser path (docs/sync-api.md, "Resumable uploads").
    upload_expiry_hours: int = 24
    max_open_uploads: int = 200
    # The host's own expiry of what the unit no longer needs here (docs/retention.md).
    reply_retention_days: int = 180
    reporter_retention_days: int = 365
    https: bool = False
    onion_address: str = ""
    testing: bool = False
    # The report categories: the built-in set, or IBLAGH_CATEGORIES_FILE (docs/categories.md).
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    # Blobs in an S3-compatible bucket instead of blob_dir (docs/operator.md, "Scale-out").
    blob_url: str = ""
    blob_s3_endpoint: str = ""
    blob_s3_region: str = ""
    blob_s3_sse: str = ""

    def __post_init__(self) -> None:
        # The officer host refuses a submission above the protocol's ceiling, so a higher
        # limit here would accept reports that can never reach the unit.
        if not 0 <= self.max_attachments <= MAX_ATTACHMENTS:
            raise ConfigError(
                f"IBLAGH_MAX_ATTACHMENTS must be from 0 to {MAX_ATTACHMENTS} "
                f"(the sync protocol's ceiling), not {self.max_attachments}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SourceConfig":
        """Read the configuration; creates the data dir (0700) and the session secret."""
        settings = SourceSettings.from_env(os.environ if environ is None else environ)
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        verify_key = settings.unit_verify_key
        verify_key_file = settings.unit_verify_key_file or data_dir / "unit-verify-key"
        if not verify_key and verify_key_file.exists():
            verify_key = verify_key_file.read_text(encoding="ascii").strip()
        return cls(
            data_dir=data_dir,
            database_url=settings.database_url or f"sqlite:///{data_dir / 'source.db'}",
            blob_dir=settings.blob_dir or data_dir / "blobs",
            recipient_set_path=settings.recipient_set or data_dir / "recipient-set.json",
            unit_verify_key=verify_key,
            secret_key=_session_secret(data_dir),
            max_request_bytes=settings.max_request_bytes,
            max_sync_request_bytes=settings.max_sync_request_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            max_attachments=settings.max_attachments,
            min_free_bytes=settings.min_free_bytes,
            submissions_per_minute=settings.submissions_per_minute,
            code_attempts_per_minute=settings.code_attempts_per_minute,
            code_attempts_per_session=settings.code_attempts_per_session,
            file_submissions_per_minute=settings.file_submissions_per_minute,
            argon2_concurrency=settings.argon2_concurrency or os.cpu_count() or 1,
            argon2_reserved_for_reports=settings.argon2_reserved_for_reports,
            argon2_wait_seconds=settings.argon2_wait_seconds,
            redis_url=settings.redis_url,
            orphan_grace_seconds=settings.orphan_grace_seconds,
            upload_expiry_hours=settings.upload_expiry_hours,
            max_open_uploads=settings.max_open_uploads,
            reply_retention_days=settings.reply_retention_days,
            reporter_retention_days=settings.reporter_retention_days,
            https=settings.https,
            onion_address=settings.onion_address,
            categories=_categories(settings.categories_file),
            blob_url=settings.blob_url,
            blob_s3_endpoint=settings.blob_s3_endpoint,
            blob_s3_region=settings.blob_s3_region,
            blob_s3_sse=settings.blob_s3_sse,
        )


class SourceSettings(BaseSettings):
    """The public host's ``IBLAGH_*`` variables (``iblagh-source``, the public site, sync)."""

    model_config = SettingsConfigDict(env_prefix="IBLAGH_", env_ignore_empty=True)

    data_dir: Path = Field(
        Path(DEFAULT_DATA_DIR),
        description="Folder holding everything the public host writes (created 0700).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy database URL (SQLite or PostgreSQL). "
        "Unset: `sqlite:///` + `source.db` in the data dir.",
    )
    blob_dir: Path | None = Field(
        None, description="Folder of the encrypted blobs. Unset: `blobs` in the data dir."
    )
    blob_url: str = Field(
        "",
        pattern=r"^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?)?$",
        description="`s3://bucket/prefix`: blobs in an S3-compatible bucket (credentials "
        "from boto3's usual AWS_* variables); empty: the folder IBLAGH_BLOB_DIR.",
    )
    blob_s3_endpoint: str = Field(
        "",
        description="The S3-compatible endpoint URL (MinIO, Ceph, ...); empty: AWS.",
    )
    blob_s3_region: str = Field("", description="The bucket's region; empty: boto3's default.")
    blob_s3_sse: str = Field(
        "",
        description="Server-side encryption asked of the bucket (`AES256`, `aws:kms`); "
        "empty: none, the blobs being envelopes already.",
    )
    recipient_set: Path | None = Field(
        None,
        description="The signed recipient set (`keys init --public-out` writes it). "
        "Unset: `recipient-set.json` in the data dir.",
    )
    unit_verify_key: str = Field(
        "",
        description="The unit's signing verify key (base64) that the recipient set must "
        "carry; empty: read from IBLAGH_UNIT_VERIFY_KEY_FILE.",
    )
    unit_verify_key_file: Path | None = Field(
        None, description="File holding that key. Unset: `unit-verify-key` in the data dir."
    )
    max_request_bytes: int = Field(
        SourceConfig.max_request_bytes,
        ge=1,
        description="Largest form request without attachments (bytes).",
    )
    max_sync_request_bytes: int = Field(
        SourceConfig.max_sync_request_bytes,
        ge=1,
        description="Largest request body the sync listener accepts (bytes).",
    )
    max_upload_bytes: int = Field(
        SourceConfig.max_upload_bytes,
        ge=0,
        description="Attachments of one report or follow-up, all files together (bytes).",
    )
    max_attachments: int = Field(
        SourceConfig.max_attachments,
        ge=0,
        le=MAX_ATTACHMENTS,
        description="Attachments per report or follow-up; at most the sync protocol's "
        "ceiling (crypto/sync_api.py), which the officer host enforces.",
    )
    min_free_bytes: int = Field(
        SourceConfig.min_free_bytes,
        ge=0,
        description="Below this much free space in the blob store, files are refused (507).",
    )
    submissions_per_minute: int = Field(
        SourceConfig.submissions_per_minute,
        ge=0,
        description="Valid reports and follow-ups without files (under "
        "IBLAGH_MAX_REQUEST_BYTES) accepted per minute, per worker (per deployment with "
        "Redis); 0: no limit.",
    )
    code_attempts_per_minute: int = Field(
        SourceConfig.code_attempts_per_minute,
        ge=0,
        description="Checks of well-formed receipt codes per minute, per worker (per "
        "deployment with Redis); 0: no limit.",
    )
    code_attempts_per_session: int = Field(
        SourceConfig.code_attempts_per_session,
        ge=0,
        description="Checks of well-formed receipt codes per browser session per 15 "
        "minutes; 0: no limit.",
    )
    file_submissions_per_minute: int = Field(
        SourceConfig.file_submissions_per_minute,
        ge=0,
        description="Valid reports and follow-ups with files accepted per minute, per "
        "worker (per deployment with Redis); 0: no limit.",
    )
    argon2_concurrency: int = Field(
        0,
        ge=0,
        description="argon2id runs (new report, code check) at once, per worker (per "
        "deployment with Redis); 0: the number of CPU cores.",
    )
    argon2_reserved_for_reports: int = Field(
        SourceConfig.argon2_reserved_for_reports,
        ge=0,
        description="Of those, slots that code checks may not use, kept for new reports "
        "(at most the cap minus one).",
    )
    argon2_wait_seconds: int = Field(
        SourceConfig.argon2_wait_seconds,
        ge=0,
        description="How long a request waits for an argon2id slot before a 503.",
    )
    redis_url: str = Field(
        "",
        pattern=r"^((redis|rediss|unix)://.*)?$",
        description="Redis holding the limits, sync nonces and argon2id slots shared by "
        "every worker and replica (`redis://127.0.0.1:6379/0`); empty: each process "
        "counts for itself. Unreachable: sync and rate-limited writes are refused (503).",
    )
    orphan_grace_seconds: int = Field(
        SourceConfig.orphan_grace_seconds,
        ge=0,
        description="Age after which a blob no committed report names is deleted (seconds).",
    )
    upload_expiry_hours: int = Field(
        SourceConfig.upload_expiry_hours,
        ge=1,
        description="Hours an unfinished resumable upload of the browser path is kept, to "
        "resume after a cut; then it is aborted and nothing of it is left.",
    )
    max_open_uploads: int = Field(
        SourceConfig.max_open_uploads,
        ge=1,
        description="Unfinished resumable uploads the host holds at once, all sessions "
        "together (each session holds at most IBLAGH_MAX_ATTACHMENTS); over it: 503.",
    )
    reply_retention_days: int = Field(
        SourceConfig.reply_retention_days,
        ge=0,
        description="Days a reply waits for its reporter before this host deletes it; 0: forever.",
    )
    reporter_retention_days: int = Field(
        SourceConfig.reporter_retention_days,
        ge=0,
        description=(
            "Days after which a receipt code's lookup hash and public key are deleted, once "
            "no report of it waits and no reply is left; 0: forever."
        ),
    )
    https: bool = Field(
        SourceConfig.https,
        description="The site is served over HTTPS: HSTS and a `Secure` session cookie.",
    )
    onion_address: str = Field(
        SourceConfig.onion_address,
        description="The site's onion address, announced in `Onion-Location`; empty: none.",
    )
    categories_file: Path | None = Field(
        None,
        description="JSON file of report categories (docs/categories.md); the same file on "
        "both hosts. Unset: the built-in set.",
    )

    @classmethod
    def settings_customise_sources(cls, *_args: Any, **_kwargs: Any) -> tuple[()]:
        # Nothing is read behind from_env's back: not os.environ, not a .env file.
        return ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "SourceSettings":
        """The variables in ``environ``; a bad value raises one-line :class:`ConfigError`."""
        try:
            return cls(**_reading_only(_Environment(cls, environ)))
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None


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
    """pydantic's report as one line per variable, naming it and what it accepts."""
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


def _categories(path: Path | None) -> tuple[Category, ...]:
    """The configured categories, checked now so that a mistake stops the host at start-up."""
    if path is None:
        return DEFAULT_CATEGORIES
    try:
        return load_categories(path)
    except CategoriesFileError as exc:
        raise ConfigError(f"IBLAGH_CATEGORIES_FILE ({path}): {exc}") from None


def _session_secret(data_dir: Path) -> bytes:
    """The key that signs session cookies (CSRF); it opens no report."""
    path = data_dir / "session-secret"
    if not path.exists():
        # Workers boot at once: write aside, then link into place, so that none ever
        # reads a half-written secret and all end up with the first one linked.
        temporary = data_dir / f".session-secret-{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
