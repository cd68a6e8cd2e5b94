"""Backup and restore of the public host: database, blobs, and the files the unit gave it.

What goes in: the database (backup/database.py), then every blob a row of that moment
names (submissions not yet acknowledged, replies waiting for their reporter), then the
signed recipient set and the unit verify key. The dump comes first so every row of the
copy finds its blob; a blob written after it is not listed and stays out. What stays out
on purpose: ``session-secret`` (made anew at start, opens no report) and the onion keys
in ``tor/`` — private keys at rest in the clear, which a backup must not carry; they are
backed up once, encrypted, apart (docs/operator.md, §6). Restore checks the whole backup
before it writes anything and refuses a target that holds data unless forced.
"""

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from backup.database import (
    DatabaseDump,
    database_holds_rows,
    dump_database,
    restore_database,
)
from backup.folder import Backup, BackupError, BackupWriter
from source_app.config import SourceConfig
from source_app.db import make_engine
from source_app.models import Base, Reply, SubmissionBlob
from source_app.schema import upgrade_to_head
from source_app.services.maintenance import sweep_orphans
from source_app.storage import BlobStore
from source_app.storage_s3 import open_blob_store

HOST = "public"
RECIPIENT_SET = "keys/recipient-set.json"
VERIFY_KEY = "keys/unit-verify-key"
LEFT_OUT = (
    "session-secret (made anew at start)",
    "tor/ onion keys (back them up apart, encrypted: docs/operator.md §6)",
)


@dataclass(frozen=True)
class BackupMade:
    blobs: int
    missing: list[str]
    manifest_sha256: str


@dataclass(frozen=True)
class Restored:
    blobs: int
    missing: list[str] = field(default_factory=list)
    orphans_removed: int = 0


def create_backup(config: SourceConfig, destination: Path, *, timeout: float) -> BackupMade:
    """Write a backup of this host into ``destination`` (a new or empty folder)."""
    writer = BackupWriter(destination, HOST)
    try:
        dump = dump_database(config.database_url, writer, timeout=timeout)
        store = open_blob_store(config)
        missing = []
        copied = 0
        for key in sorted(_referenced_blobs(config.database_url)):
            try:
                with store.open(key) as source:
                    writer.add_stream(f"blobs/{key}", source)
                copied += 1
            except FileNotFoundError:
                # Acknowledged and deleted since the dump: the officer host has it.
                missing.append(key)
        if config.recipient_set_path.exists():
            writer.add_bytes(RECIPIENT_SET, config.recipient_set_path.read_bytes())
        if config.unit_verify_key:
            writer.add_bytes(VERIFY_KEY, config.unit_verify_key.encode("ascii") + b"\n")
        digest = writer.finish({"database": dump.details(), "missing_blobs": missing})
    except BaseException:
        writer.abandon()
        raise
    return BackupMade(blobs=copied, missing=missing, manifest_sha256=digest)


def restore_backup(config: SourceConfig, source: Path, *, force: bool, timeout: float) -> Restored:
    """Restore ``source`` into the host ``config`` describes (stopped, or fresh)."""
    backup = Backup.open(source, HOST)
    dump = DatabaseDump.from_details(backup.details.get("database"))
    store = open_blob_store(config)
    public_files = _public_files(config, backup)
    if not force:
        _refuse_data(config, store, backup, public_files)
    restore_database(config.database_url, backup, dump, timeout=timeout)
    for path, name in public_files.items():
        backup.restore_file(name, path)
    engine = make_engine(config.database_url)
    try:
        upgrade_to_head(engine)
        restored, missing = 0, []
        for key in sorted(_referenced_blobs_of(engine)):
            name = f"blobs/{key}"
            if not backup.has(name):
                missing.append(key)
                continue
            with store.restore_blob(key) as upload:
                backup.copy_to(name, upload)
            restored += 1
        # Forced over an older store: what no restored row names goes, as `recover` does.
        with sessionmaker(engine)() as session:
            swept = sweep_orphans(session, store, grace_seconds=0)
    finally:
        engine.dispose()
    return Restored(blobs=restored, missing=missing, orphans_removed=swept.orphans_removed)


def _referenced_blobs(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return _referenced_blobs_of(engine)
    finally:
        engine.dispose()


def _referenced_blobs_of(engine: Engine) -> set[str]:
    """Every blob a row names: the submissions' envelopes and the replies."""
    with engine.connect() as connection:
        keys = set(connection.scalars(select(SubmissionBlob.blob_key)))
        keys.update(connection.scalars(select(Reply.blob_key)))
    return keys


def _public_files(config: SourceConfig, backup: Backup) -> dict[Path, str]:
    """Where the backup's public files go on this host."""
    files = {}
    if backup.has(RECIPIENT_SET):
        files[config.recipient_set_path] = RECIPIENT_SET
    if backup.has(VERIFY_KEY):
        wanted = backup.path(VERIFY_KEY).read_text(encoding="ascii").strip()
        if config.unit_verify_key and config.unit_verify_key != wanted:
            raise BackupError(
                "this host pins another unit verify key (IBLAGH_UNIT_VERIFY_KEY or its file) "
                "than the backup: nothing was restored"
            )
        files[config.data_dir / "unit-verify-key"] = VERIFY_KEY
    return files


def _refuse_data(
    config: SourceConfig, store: BlobStore, backup: Backup, files: dict[Path, str]
) -> None:
    """A restore replaces what it finds: only into an empty target, unless forced."""
    found: list[str] = []
    if database_holds_rows(config.database_url, Base.metadata.tables):
        found.append("the database holds rows")
    if next(iter(store.keys()), None) is not None:
        found.append("the blob store holds blobs")
    found += [
        f"{path} differs from the backup's"
        for path, name in files.items()
        if path.exists() and path.read_bytes() != backup.path(name).read_bytes()
    ]
    if found:
        raise BackupError(
            f"the target is not empty ({'; '.join(found)}): nothing was restored. Restore "
            "into a fresh host, or stop this one and pass --force to replace its data"
        )
