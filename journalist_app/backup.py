"""Backup and restore of the officer host: database, report ciphertexts, kept files.

What goes in: the database (backup/database.py: accounts with their wrapped keys and
grants, cases, the audit log), then every blob a row of that moment names, read through
the blob store (folder or bucket), then the folders the host keeps beside them
(``audit-anchors/``, ``referrals/``, ``transparency/``). Keys go in as they rest: wrapped
by passphrases in the database, never unwrapped, and nothing here needs a passphrase.
What stays out on purpose: ``totp-key``, ``flask-secret-key`` and ``login-client-key``,
host secrets at rest in the clear (docs/keys.md: a copy of the database alone reveals no
TOTP secret), and ``demo-credentials.txt``. After a restore the host makes new ones, and
an admin gives every officer a new second factor (``officer reset-2fa``).

Restore checks the whole backup before it writes anything, refuses a target that holds
data unless forced, and copies only the blobs the restored rows name.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from backup.database import DatabaseDump, database_holds_rows, dump_database, restore_database
from backup.folder import Backup, BackupError, BackupWriter
from journalist_app.audit_anchor import ANCHOR_FOLDER
from journalist_app.config import SECRET_KEY_FILE, OfficerConfig
from journalist_app.database import make_engine
from journalist_app.models import Base, ReportBlob
from journalist_app.schema import upgrade_to_head
from journalist_app.sync.blob_store_s3 import open_blob_store

HOST = "officer"
# Folders of the data dir that hold what the unit must keep: signed anchors, referral
# packets (OpenPGP-encrypted), published transparency releases.
KEPT_FOLDERS = (ANCHOR_FOLDER, "referrals", "transparency")
# Host secrets in the clear, and what is rebuilt or transient: never in a backup.
LEFT_OUT = {
    "totp-key": "seals the second factors: every officer gets a new one (officer reset-2fa)",
    SECRET_KEY_FILE: "signs web sessions: made anew at start",
    "login-client-key": "keys the login throttle: made anew, the counts restart",
    "demo-credentials.txt": "demo logins in the clear",
    "blobs": "copied through the blob store, row by row",
    "purging": "a purge's work folder: `purge` finishes or undoes it",
}


@dataclass(frozen=True)
class BackupMade:
    blobs: int
    files: int
    missing: list[str]
    left_out: list[str]
    manifest_sha256: str


@dataclass(frozen=True)
class Restored:
    blobs: int
    files: int
    missing: list[str] = field(default_factory=list)


def create_backup(
    config: OfficerConfig,
    destination: Path,
    *,
    timeout: float,
    on_blob: Callable[[], object] = lambda: None,
) -> BackupMade:
    """Write a backup of this host into ``destination`` (a new or empty folder);
    ``on_blob`` is called after each blob, for a progress bar."""
    writer = BackupWriter(destination, HOST)
    try:
        dump = dump_database(config.database_url, writer, timeout=timeout)
        store = open_blob_store(config)
        copied, missing = 0, []
        for relative in sorted(_blob_paths(config.database_url)):
            try:
                with store.open(relative) as source:
                    writer.add_stream(relative, source)
                copied += 1
                on_blob()
            except FileNotFoundError:
                # Purged between the dump and this copy.
                missing.append(relative)
        files = 0
        for relative in _kept_files(config.data_dir):
            with (config.data_dir / relative).open("rb") as source:
                writer.add_stream(relative, source)
            files += 1
        digest = writer.finish({"database": dump.details(), "missing_blobs": missing})
    except BaseException:
        writer.abandon()
        raise
    return BackupMade(
        blobs=copied,
        files=files,
        missing=missing,
        left_out=_left_out(config),
        manifest_sha256=digest,
    )


def restore_backup(
    config: OfficerConfig,
    source: Path,
    *,
    force: bool,
    timeout: float,
    on_blob: Callable[[], object] = lambda: None,
) -> Restored:
    """Restore ``source`` into the host ``config`` describes (stopped, or fresh)."""
    backup = Backup.open(source, HOST)
    dump = DatabaseDump.from_details(backup.details.get("database"))
    config.ensure_data_dir()
    if not force:
        _refuse_data(config)
    restore_database(config.database_url, backup, dump, timeout=timeout)
    store = open_blob_store(config)
    engine = make_engine(config.database_url)
    try:
        upgrade_to_head(engine)
        paths = _blob_paths_of(engine)
    finally:
        engine.dispose()
    restored, missing = 0, []
    for relative in sorted(paths):
        if not backup.has(relative):
            missing.append(relative)
            continue
        with store.writer(relative) as sink:
            backup.copy_to(relative, sink)
        restored += 1
        on_blob()
    files = 0
    for folder in KEPT_FOLDERS:
        for relative in backup.under(folder):
            backup.restore_file(relative, config.data_dir / relative)
            files += 1
    return Restored(blobs=restored, files=files, missing=missing)


def _blob_paths(database_url: str) -> set[str]:
    engine = make_engine(database_url)
    try:
        return _blob_paths_of(engine)
    finally:
        engine.dispose()


def _blob_paths_of(engine: Engine) -> set[str]:
    """Every envelope a report row names, relative to the data dir (or the bucket)."""
    with engine.connect() as connection:
        return set(connection.scalars(select(ReportBlob.path)))


def _kept_files(data_dir: Path) -> Iterator[str]:
    for folder in KEPT_FOLDERS:
        root = data_dir / folder
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    yield str(path.relative_to(data_dir))


def _left_out(config: OfficerConfig) -> list[str]:
    """What the data dir holds that the backup does not, and why: said, not silent."""
    if not config.data_dir.is_dir():
        return []
    database = _sqlite_file(config)
    notes = []
    for path in sorted(config.data_dir.iterdir()):
        name = path.name
        if name in KEPT_FOLDERS or (database and name.startswith(database)):
            continue
        notes.append(f"{name}: {LEFT_OUT.get(name, 'not known to this release')}")
    return notes


def _sqlite_file(config: OfficerConfig) -> str:
    """The SQLite file's name when it lives in the data dir (its -wal and -shm beside)."""
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        path = Path(url.database)
        if path.parent.resolve() == config.data_dir.resolve():
            return path.name
    return ""


def _refuse_data(config: OfficerConfig) -> None:
    """A restore replaces what it finds: only into an empty target, unless forced."""
    found = []
    if database_holds_rows(config.database_url, Base.metadata.tables):
        found.append("the database holds rows")
    blobs = config.data_dir / "blobs"
    if blobs.is_dir() and any(p.is_file() for p in blobs.rglob("*")):
        found.append(f"{blobs} holds files")
    found += [
        f"{config.data_dir / folder} holds files"
        for folder in KEPT_FOLDERS
        if (config.data_dir / folder).is_dir() and any((config.data_dir / folder).iterdir())
    ]
    if found:
        raise BackupError(
            f"the target is not empty ({'; '.join(found)}): nothing was restored. Restore "
            "into a fresh host, or stop this one and pass --force to replace its data"
        )
