"""Configuration of the public host, read once from ``IBLAGH_*`` environment variables."""

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from source_app.categories import (
    DEFAULT_CATEGORIES,
    CategoriesFileError,
    Category,
    load_categories,
)

DEFAULT_DATA_DIR = "var/source"


class ConfigError(Exception):
    """The public host cannot start as configured; the message says what to fix."""


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
    # Per worker process (see docs/threat-model.md, "Abuse without tracking").
    submissions_per_minute: int = 60
    code_attempts_per_minute: int = 120
    code_attempts_per_session: int = 10
    orphan_grace_seconds: int = 3600
    https: bool = False
    onion_address: str = ""
    testing: bool = False
    # The report categories: the built-in set, or IBLAGH_CATEGORIES_FILE (docs/categories.md).
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "SourceConfig":
        """Read the configuration; creates the data dir (0700) and the session secret."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("IBLAGH_DATA_DIR", DEFAULT_DATA_DIR)).resolve()
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        verify_key = env.get("IBLAGH_UNIT_VERIFY_KEY", "").strip()
        verify_key_file = Path(env.get("IBLAGH_UNIT_VERIFY_KEY_FILE", data_dir / "unit-verify-key"))
        if not verify_key and verify_key_file.exists():
            verify_key = verify_key_file.read_text(encoding="ascii").strip()
        return cls(
            data_dir=data_dir,
            database_url=env.get("IBLAGH_DATABASE_URL", f"sqlite:///{data_dir / 'source.db'}"),
            blob_dir=Path(env.get("IBLAGH_BLOB_DIR", data_dir / "blobs")),
            recipient_set_path=Path(
                env.get("IBLAGH_RECIPIENT_SET", data_dir / "recipient-set.json")
            ),
            unit_verify_key=verify_key,
            secret_key=_session_secret(data_dir),
            max_request_bytes=int(env.get("IBLAGH_MAX_REQUEST_BYTES", 1024 * 1024)),
            max_upload_bytes=_int(env, "IBLAGH_MAX_UPLOAD_BYTES", cls.max_upload_bytes),
            max_attachments=_int(env, "IBLAGH_MAX_ATTACHMENTS", cls.max_attachments),
            min_free_bytes=_int(env, "IBLAGH_MIN_FREE_BYTES", cls.min_free_bytes),
            submissions_per_minute=_int(
                env, "IBLAGH_SUBMISSIONS_PER_MINUTE", cls.submissions_per_minute
            ),
            code_attempts_per_minute=_int(
                env, "IBLAGH_CODE_ATTEMPTS_PER_MINUTE", cls.code_attempts_per_minute
            ),
            code_attempts_per_session=_int(
                env, "IBLAGH_CODE_ATTEMPTS_PER_SESSION", cls.code_attempts_per_session
            ),
            orphan_grace_seconds=int(env.get("IBLAGH_ORPHAN_GRACE_SECONDS", 3600)),
            https=env.get("IBLAGH_HTTPS", "") == "1",
            onion_address=env.get("IBLAGH_ONION_ADDRESS", ""),
            categories=_categories(env),
        )


def _categories(env: Mapping[str, str]) -> tuple[Category, ...]:
    """The configured categories, checked now so that a mistake stops the host at start-up."""
    raw = env.get("IBLAGH_CATEGORIES_FILE", "").strip()
    if not raw:
        return DEFAULT_CATEGORIES
    try:
        return load_categories(Path(raw))
    except CategoriesFileError as exc:
        raise ConfigError(f"IBLAGH_CATEGORIES_FILE ({raw}): {exc}") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    """A non-negative integer setting; a typo stops the host with a message, not a trace."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be a whole number of bytes or requests, not {raw!r}"
        ) from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative")
    return value


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
