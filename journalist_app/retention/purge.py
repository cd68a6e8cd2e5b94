"""Purge: destroy everything of a case on the officer host, leave a tombstone in the audit log.

What goes (docs/retention.md): the case, the records merged into it, its reports, every
envelope of theirs on disk (body, identity, attachments), and every row that points at
any of them — found by following the schema's foreign keys, so a table added later is
purged too (addresses, attachment facts, diagnostics, hash matches, notes, replies and
their copies, identity reveals, the case history). The audit log stays: it is
append-only and hash-chained, and the tombstone is appended to it in the same
transaction, with a SHA-256 over the list of what was destroyed.

Files are moved aside (``data_dir/purging``) before the commit and shredded after it: a
crash before the commit puts them back on the next run, a crash after it finishes the
job (:func:`recover_interrupted`). On SQLite, ``secure_delete`` zeroes deleted rows in the
file, and :func:`compact` rebuilds it (VACUUM) once the run is over.
"""

import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, delete, or_, select, text, update
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.models import Base, Case, Report, ReportBlob, ReportTriage
from journalist_app.retention.rules import RetentionRules
from journalist_app.retention.schedule import CaseRetention, due_cases, retention_of
from journalist_app.roles import Permission, Principal, requires
from journalist_app.triage.errors import TriageError
from journalist_app.triage.events import case_target
from journalist_app.triage.workflow import get_case

PURGED = "case.purged"
PURGING_DIR = "purging"
_ROOTS = ("cases", "reports")
_NEVER = frozenset({"audit_entries"})
_SHRED_CHUNK = 1 << 20


class PurgeRefused(TriageError):
    """The case is held, open, or not due."""


@dataclass
class PurgeResult:
    cases: int = 0
    reports: int = 0
    blobs: int = 0
    rows: int = 0
    held: int = 0
    tombstones: list[int] = field(default_factory=list)


@requires(Permission.RETENTION_MANAGE)
def purge_due(
    session: Session,
    actor: Principal,
    data_dir: Path,
    rules: RetentionRules,
    *,
    now: datetime | None = None,
    progress: Callable[[CaseRetention], None] | None = None,
    batch: int = 200,
) -> PurgeResult:
    """Purge every case whose date has come; one transaction per case. Returns the counts."""
    now = now or utc_now()
    recover_interrupted(session, data_dir)
    result = PurgeResult()
    _secure_delete(session)
    for due in due_cases(session, rules, now, batch=batch):
        for retention in due:
            _purge_one(session, actor, data_dir, retention, now, result)
            if progress is not None:
                progress(retention)
        session.expunge_all()
    return result


@requires(Permission.RETENTION_MANAGE)
def purge_case(
    session: Session,
    actor: Principal,
    data_dir: Path,
    rules: RetentionRules,
    case_id: int,
    *,
    now: datetime | None = None,
) -> PurgeResult:
    """Purge one case, only if its date has come and no hold keeps it."""
    now = now or utc_now()
    case = get_case(session, case_id)
    retention = retention_of(session, [case], rules)[case.id]
    if retention.held:
        raise PurgeRefused(f"case {case_id} is on legal hold")
    if not retention.due(now):
        raise PurgeRefused(f"case {case_id} is not due for purge")
    recover_interrupted(session, data_dir)
    _secure_delete(session)
    result = PurgeResult()
    _purge_one(session, actor, data_dir, retention, now, result)
    return result


def _purge_one(
    session: Session,
    actor: Principal,
    data_dir: Path,
    retention: CaseRetention,
    now: datetime,
    result: PurgeResult,
) -> None:
    case_ids = _case_family(session, retention.case_id)
    report_ids = set(
        session.scalars(select(ReportTriage.report_id).where(ReportTriage.case_id.in_(case_ids)))
    )
    blobs = list(
        session.execute(
            select(ReportBlob.report_id, ReportBlob.name, ReportBlob.path, ReportBlob.sha256)
            .where(ReportBlob.report_id.in_(report_ids))
            .order_by(ReportBlob.report_id, ReportBlob.name)
        )
    )
    plan = _deletion_plan(session, {"cases": set(case_ids), "reports": report_ids})
    manifest = hashlib.sha256(b"iblagh-purge/1\n")
    rows = 0
    for table, where in plan:
        pk = list(table.primary_key.columns)
        for row in session.execute(select(*pk).where(where).order_by(*pk)):
            manifest.update(f"{table.name}:{'/'.join(map(str, row))}\n".encode())
            rows += 1
    for report_id, name, _path, sha256 in blobs:
        manifest.update(f"blob:{report_id}/{name}:{sha256}\n".encode())
    aside = _move_aside(data_dir, report_ids)
    try:
        session.execute(update(Case).where(Case.id.in_(case_ids)).values(merged_into_id=None))
        for table, where in reversed(plan):
            session.execute(delete(table).where(where))
        session.execute(delete(Report).where(Report.id.in_(report_ids)))
        session.execute(delete(Case).where(Case.id.in_(case_ids)))
        entry = audit.record(
            session,
            actor,
            PURGED,
            case_target(retention.case_id),
            {
                "case": retention.case_id,
                "merged_records": sorted(set(case_ids) - {retention.case_id}),
                "received": retention.received.date().isoformat(),
                "clock_start": retention.clock_start.isoformat(timespec="seconds")
                if retention.clock_start
                else None,
                "purged": now.isoformat(timespec="seconds"),
                "category": retention.category,
                "status": retention.status,
                "reason": retention.close_reason,
                "rule": retention.rule.key,
                "reports": len(report_ids),
                "blobs": len(blobs),
                "rows": rows + len(report_ids) + len(case_ids),
                "destroyed_sha256": manifest.hexdigest(),
            },
            now=now,
        )
        session.commit()
    except BaseException:
        session.rollback()
        _put_back(data_dir, aside)
        raise
    _shred_all(aside)
    result.cases += 1
    result.reports += len(report_ids)
    result.blobs += len(blobs)
    result.rows += rows + len(report_ids) + len(case_ids)
    result.tombstones.append(entry.id)


def _case_family(session: Session, case_id: int) -> list[int]:
    """The case and every merged record that points to it, however deep."""
    family, frontier = [case_id], [case_id]
    while frontier:
        frontier = list(session.scalars(select(Case.id).where(Case.merged_into_id.in_(frontier))))
        family.extend(frontier)
    return family


def _deletion_plan(
    session: Session, roots: dict[str, set[Any]]
) -> list[tuple[Table, ColumnElement[bool]]]:
    """Every table holding rows that point (through foreign keys, transitively) at the doomed
    cases and reports, with the condition that picks those rows; parents before children."""
    values: dict[tuple[str, str], set[Any]] = {
        (name, "id"): set(ids) for name, ids in roots.items()
    }
    referenced = {
        (fk.column.table.name, fk.column.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
    }
    plan: list[tuple[Table, ColumnElement[bool]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in _ROOTS or table.name in _NEVER:
            continue
        conditions = [
            fk.parent.in_(values[key])
            for fk in table.foreign_keys
            if (key := (fk.column.table.name, fk.column.name)) in values and values[key]
        ]
        if not conditions:
            continue
        where = or_(*conditions)
        for column in table.columns:
            if (table.name, column.name) in referenced:
                values[(table.name, column.name)] = set(
                    session.scalars(select(column).where(where))
                )
        plan.append((table, where))
    return plan


# --- files ------------------------------------------------------------------------------


def _move_aside(data_dir: Path, report_ids: Iterable[str]) -> list[Path]:
    purging = data_dir / PURGING_DIR
    purging.mkdir(mode=0o700, exist_ok=True)
    moved = []
    for report_id in sorted(report_ids):
        source = data_dir / "blobs" / report_id
        if source.exists():
            target = purging / report_id
            os.replace(source, target)
            moved.append(target)
    return moved


def _put_back(data_dir: Path, moved: Iterable[Path]) -> None:
    for path in moved:
        os.replace(path, data_dir / "blobs" / path.name)


def _shred_all(paths: Iterable[Path]) -> None:
    for path in paths:
        _shred_tree(path)


def _shred_tree(folder: Path) -> None:
    """Overwrite each file with zeros, then remove it.

    On a journaling or copy-on-write file system, or an SSD, old blocks may survive an
    overwrite: full-disk encryption of the officer host is what protects those
    (docs/retention.md). The overwrite removes what a plain file read could find.
    """
    for path in sorted(folder.rglob("*"), reverse=True):
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            with path.open("r+b") as handle:
                left = size
                zeros = bytes(min(_SHRED_CHUNK, max(size, 1)))
                while left > 0:
                    handle.write(zeros[: min(left, len(zeros))])
                    left -= min(left, len(zeros))
                handle.flush()
                os.fsync(handle.fileno())
    shutil.rmtree(folder, ignore_errors=True)


def recover_interrupted(session: Session, data_dir: Path) -> int:
    """Finish or undo a purge a crash interrupted: a folder set aside whose report is gone
    is shredded, one whose report is still there goes back. Returns how many were found."""
    purging = data_dir / PURGING_DIR
    if not purging.is_dir():
        return 0
    found = 0
    for folder in sorted(purging.iterdir()):
        found += 1
        if session.get(Report, folder.name) is None:
            _shred_tree(folder)
        else:
            os.replace(folder, data_dir / "blobs" / folder.name)
    return found


# --- the database file ------------------------------------------------------------------


def _secure_delete(session: Session) -> None:
    """SQLite zeroes what it deletes from then on (this connection)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete=ON"))


def compact(session: Session) -> None:
    """Rebuild the database after a purge run so no free page keeps an old row.

    SQLite: VACUUM (the file is rewritten from live rows only). PostgreSQL: VACUUM of the
    purged tables, which makes dead rows' space reusable; its data files and WAL are the
    database administrator's to protect (docs/retention.md).
    """
    session.commit()
    bind = session.get_bind()
    names = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name not in _NEVER)
    statement = {"sqlite": "VACUUM", "postgresql": f"VACUUM {names}"}.get(bind.dialect.name)
    if statement is None:
        return
    with bind.engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.execute(text(statement))
