"""The database of a backup: SQLite's online backup API, PostgreSQL's pg_dump and pg_restore.

Both give a consistent copy while the host runs: SQLite's backup copies one snapshot
under a read lock (writers go on in WAL mode), pg_dump reads one transaction's snapshot.
A PostgreSQL dump holds the schema the URL's connection uses (``search_path``), not the
whole database, so two apps or two test schemas in one database do not mix; it is
restored with ``--clean --if-exists`` in one transaction, which either replaces the
schema whole or changes nothing. The tools run with a deadline and a lock timeout: a
session left open on the target makes the restore fail with a message, not hang.
"""

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from backup.folder import Backup, BackupError, BackupWriter

SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
# A whole restore of a large database may take long; a lock waited on should not.
DEFAULT_TIMEOUT_SECONDS = 3600.0
LOCK_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class DatabaseDump:
    """What the manifest says of the database copy."""

    engine: str
    file: str
    schema: str = ""

    def details(self) -> dict[str, str]:
        return {"engine": self.engine, "file": self.file, "schema": self.schema}

    @classmethod
    def from_details(cls, details: Any) -> "DatabaseDump":
        if not isinstance(details, dict) or details.get("engine") not in ("sqlite", "postgresql"):
            raise BackupError("the manifest names no database copy: the backup is damaged")
        return cls(str(details["engine"]), str(details["file"]), str(details.get("schema", "")))


def dump_database(url: str, writer: BackupWriter, *, timeout: float) -> DatabaseDump:
    """Copy the database into the backup, consistently, while the host may be running."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_dump(_sqlite_path(parsed), writer.path_for(SQLITE_FILE))
        writer.record(SQLITE_FILE)
        return DatabaseDump("sqlite", SQLITE_FILE)
    if parsed.get_backend_name() == "postgresql":
        schema = _current_schema(url) or "public"
        target = writer.path_for(POSTGRES_FILE)
        _run_tool(
            "pg_dump",
            [
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--schema={schema}",
                f"--file={target}",
            ],
            parsed,
            timeout=timeout,
        )
        writer.record(POSTGRES_FILE)
        return DatabaseDump("postgresql", POSTGRES_FILE, schema)
    raise BackupError(f"no backup for a {parsed.get_backend_name()} database")


def restore_database(url: str, backup: Backup, dump: DatabaseDump, *, timeout: float) -> None:
    """Put the copy in place of the database ``url`` names (stop the host first)."""
    parsed = make_url(url)
    engine = parsed.get_backend_name()
    if engine != dump.engine:
        raise BackupError(
            f"the backup holds a {dump.engine} database and the target is {engine}: "
            "restore into the same kind of database"
        )
    if engine == "sqlite":
        _sqlite_restore(backup, dump.file, _sqlite_path(parsed))
        return
    _check_target_schema(url, dump.schema)
    _run_tool(
        "pg_restore",
        [
            "--clean",
            "--if-exists",
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            str(backup.path(dump.file)),
        ],
        parsed,
        timeout=timeout,
    )


def database_holds_rows(url: str, tables: Iterable[str]) -> bool:
    """Whether any of ``tables`` exists with a row in it: a target restore must not hide."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not _sqlite_path(parsed).exists():
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
            for table in sorted(set(tables) & present):
                quoted = connection.dialect.identifier_preparer.quote(table)
                if connection.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1")).first():  # noqa: S608
                    return True
        return False
    finally:
        engine.dispose()


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up or restore")
    return Path(url.database)


def _sqlite_dump(source_path: Path, target: Path) -> None:
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}: check IBLAGH_DATA_DIR / DATABASE_URL")
    source = sqlite3.connect(source_path, timeout=30)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            # One self-contained file: no -wal beside it in the backup.
            copy.execute("PRAGMA journal_mode=DELETE")
            if copy.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"the copy of {source_path} does not check: try again")
        finally:
            copy.close()
    finally:
        source.close()


def _sqlite_restore(backup: Backup, name: str, target: Path) -> None:
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.restoring")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as sink:
            backup.copy_to(name, sink)
            sink.flush()
            os.fsync(sink.fileno())
        # A journal left by the database being replaced would be replayed into the copy.
        for suffix in ("-wal", "-shm", "-journal"):
            target.with_name(target.name + suffix).unlink(missing_ok=True)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- PostgreSQL ---------------------------------------------------------------------------


def _current_schema(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            schema = connection.execute(text("SELECT current_schema()")).scalar()
            return str(schema) if schema is not None else None
    finally:
        engine.dispose()


def _check_target_schema(url: str, schema: str) -> None:
    """The dump names its schema: the target's connection must use that one."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT current_schema()")).scalar()
            path = str(connection.execute(text("SHOW search_path")).scalar())
    finally:
        engine.dispose()
    names = [part.strip().strip('"') for part in path.split(",")]
    if current == schema or (current is None and schema in names):
        return
    raise BackupError(
        f"the backup holds the schema {schema!r} and the target database URL uses "
        f"{current or path!r}: point IBLAGH_DATABASE_URL at a database whose search_path "
        f"is {schema!r}"
    )


def _conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq keyword/value string for the tools; the password goes in the environment,
    never on a command line another user could list."""
    fields: dict[str, str] = {}
    if url.host:
        fields["host"] = url.host
    if url.port:
        fields["port"] = str(url.port)
    if url.username:
        fields["user"] = url.username
    if url.database:
        fields["dbname"] = url.database
    for key, value in url.query.items():
        fields[key] = value if isinstance(value, str) else value[-1]
    lock = f"-c lock_timeout={LOCK_TIMEOUT_MS}"
    fields["options"] = f"{fields['options']} {lock}" if fields.get("options") else lock
    conninfo = " ".join(f"{key}={_quote(value)}" for key, value in fields.items())
    environ = {**os.environ, "PGCONNECT_TIMEOUT": "30"}
    if url.password is not None:
        environ["PGPASSWORD"] = str(url.password)
    return conninfo, environ


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run_tool(tool: str, arguments: list[str], url: URL, *, timeout: float) -> None:
    program = shutil.which(tool)
    if program is None:
        raise BackupError(
            f"{tool} is not on PATH: install the PostgreSQL client tools "
            "(Debian: postgresql-client, of the server's major version or newer)"
        )
    conninfo, environ = _conninfo(url)
    try:
        done = subprocess.run(
            [program, *arguments, f"--dbname={conninfo}"],
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise BackupError(
            f"{tool} took longer than {timeout:.0f} s and was stopped: is another session "
            "holding the database? Stop the service and try again"
        ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        detail = " / ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise BackupError(f"{tool} failed, nothing was changed by it: {detail}")
