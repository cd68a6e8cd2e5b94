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

What stays besides the tombstone: one sealed "handling ended" notice per reporter, until
the next sync pushes it (notices.py).
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
from journalist_app.retention.notices import seal_ended_notices
from journalist_app.retention.rules import RetentionRules
from journalist_app.retention.schedule import CaseRetention, due_cases, retention_of
from journalist_app.roles import Permission, Principal, requires
from journalist_app.stats import summary
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
    notices: int = 0
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
    """Purge every case whose date has come. Returns the counts.

    Cases go by batches of ``batch``, one transaction each (a tombstone per case in it):
    a failure leaves the batch whole, and memory does not grow with the number of cases.
    """
    now = now or utc_now()
    recover_interrupted(session, data_dir)
    result = PurgeResult()
    _secure_delete(session)
    for due in due_cases(session, rules, now, batch=batch):
        _purge_batch(session, actor, data_dir, due, now, result)
        if progress is not None:
            for retention in due:
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
    _purge_batch(session, actor, data_dir, [retention], now, result)
    return result


def _purge_batch(
    session: Session,
    actor: Principal,
    data_dir: Path,
    due: list[CaseRetention],
    now: datetime,
    result: PurgeResult,
) -> None:
    """Destroy ``due`` cases in one transaction, each with its own tombstone."""
    case_root = _case_families(session, [r.case_id for r in due])
    report_root: dict[Any, int] = {
        report_id: case_root[case_id]
        for report_id, case_id in session.execute(
            select(ReportTriage.report_id, ReportTriage.case_id).where(
                ReportTriage.case_id.in_(list(case_root))
            )
        )
    }
    destroyed: dict[int, list[str]] = {r.case_id: [] for r in due}
    plan = _deletion_plan(
        session, {("cases", "id"): dict(case_root), ("reports", "id"): report_root}, destroyed
    )
    blobs: dict[int, int] = dict.fromkeys(destroyed, 0)
    for report_id, name, sha256 in session.execute(
        select(ReportBlob.report_id, ReportBlob.name, ReportBlob.sha256)
        .where(ReportBlob.report_id.in_(list(report_root)))
        .order_by(ReportBlob.report_id, ReportBlob.name)
    ):
        root = report_root[report_id]
        destroyed[root].append(f"blob:{report_id}/{name}:{sha256}")
        blobs[root] += 1
    reports: dict[int, int] = dict.fromkeys(destroyed, 0)
    for report_id, root in report_root.items():
        destroyed[root].append(f"reports:{report_id}")
        reports[root] += 1
    for case_id, root in case_root.items():
        destroyed[root].append(f"cases:{case_id}")
    aside = _move_aside(data_dir, report_root)
    try:
        # While their keys are still known: each reporter will read "handling ended".
        result.notices += seal_ended_notices(session, list(report_root), now)
        # The dashboard's daily counts lose these cases and reports in this transaction.
        with summary.tracking(session, case_root, report_root):
            session.execute(
                update(Case).where(Case.id.in_(list(case_root))).values(merged_into_id=None)
            )
            for table, where in reversed(plan):
                session.execute(delete(table).where(where))
            session.execute(delete(Report).where(Report.id.in_(list(report_root))))
            session.execute(delete(Case).where(Case.id.in_(list(case_root))))
        tombstones = [
            _tombstone(session, actor, retention, case_root, destroyed, reports, blobs, now)
            for retention in due
        ]
        session.commit()
    except BaseException:
        session.rollback()
        _put_back(data_dir, aside)
        raise
    _shred_all(aside)
    result.cases += len(due)
    result.reports += len(report_root)
    result.blobs += sum(blobs.values())
    result.rows += sum(len(lines) for lines in destroyed.values())
    result.tombstones += tombstones


def _tombstone(
    session: Session,
    actor: Principal,
    retention: CaseRetention,
    case_root: dict[int, int],
    destroyed: dict[int, list[str]],
    reports: dict[int, int],
    blobs: dict[int, int],
    now: datetime,
) -> int:
    root = retention.case_id
    manifest = hashlib.sha256(b"iblagh-purge/1\n")
    for line in sorted(destroyed[root]):
        manifest.update(line.encode() + b"\n")
    entry = audit.record(
        session,
        actor,
        PURGED,
        case_target(root),
        {
            "case": root,
            "merged_records": sorted(c for c, r in case_root.items() if r == root and c != root),
            "received": retention.received.date().isoformat(),
            "clock_start": retention.clock_start.isoformat(timespec="seconds")
            if retention.clock_start
            else None,
            "purged": now.isoformat(timespec="seconds"),
            "category": retention.category,
            "status": retention.status,
            "reason": retention.close_reason,
            "rule": retention.rule.key,
            "reports": reports[root],
            "blobs": blobs[root],
            "rows": sum(1 for line in destroyed[root] if not line.startswith("blob:")),
            "destroyed_sha256": manifest.hexdigest(),
        },
        now=now,
    )
    return entry.id


def _case_families(session: Session, roots: list[int]) -> dict[int, int]:
    """Each case to purge and every merged record pointing to it, however deep → its root."""
    family = {case_id: case_id for case_id in roots}
    frontier = list(roots)
    while frontier:
        rows = session.execute(
            select(Case.id, Case.merged_into_id).where(Case.merged_into_id.in_(frontier))
        ).all()
        frontier = []
        for case_id, parent in rows:
            if case_id not in family and parent is not None:
                family[case_id] = family[parent]
                frontier.append(case_id)
    return family


def _deletion_plan(
    session: Session,
    owners: dict[tuple[str, str], dict[Any, int]],
    destroyed: dict[int, list[str]],
) -> list[tuple[Table, ColumnElement[bool]]]:
    """Every table holding rows that point (through foreign keys, transitively) at the doomed
    cases and reports, with the condition that picks those rows; parents before children.

    ``owners`` maps (table, column) values to the case each belongs to; each row found is
    listed under its case in ``destroyed`` (for the tombstone's hash).
    """
    referenced = {
        (fk.column.table.name, fk.column.name)
        for table in Base.metadata.sorted_tables
        for fk in table.foreign_keys
    }
    plan: list[tuple[Table, ColumnElement[bool]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name in _ROOTS or table.name in _NEVER:
            continue
        links = [
            (fk.parent, owners[key])
            for fk in table.foreign_keys
            if (key := (fk.column.table.name, fk.column.name)) in owners and owners[key]
        ]
        if not links:
            continue
        where = or_(*(column.in_(list(owned)) for column, owned in links))
        keys = list(table.primary_key.columns)
        kept = [c for c in table.columns if (table.name, c.name) in referenced]
        columns = [*keys, *(column for column, _ in links), *kept]
        labelled = [column.label(f"c{i}") for i, column in enumerate(columns)]
        for row in session.execute(select(*labelled).where(where)):
            values = list(row)
            pk_values = values[: len(keys)]
            link_values = values[len(keys) : len(keys) + len(links)]
            root = next(
                owned[value]
                for value, (_, owned) in zip(link_values, links, strict=True)
                if value in owned
            )
            destroyed[root].append(f"{table.name}:{'/'.join(map(str, pk_values))}")
            for column, value in zip(kept, values[len(keys) + len(links) :], strict=True):
                owners.setdefault((table.name, column.name), {})[value] = root
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


def _shred_all(folders: list[Path]) -> None:
    """Overwrite every file with zeros, make that durable (one sync for all), remove them.

    On a journaling or copy-on-write file system, or an SSD, old blocks may survive an
    overwrite: full-disk encryption of the officer host is what protects those
    (docs/retention.md). The overwrite removes what a plain file read could find.
    """
    if not folders:
        return
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink():
                _overwrite(path)
    os.sync()
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _overwrite(path: Path) -> None:
    left = path.stat().st_size
    zeros = bytes(min(_SHRED_CHUNK, max(left, 1)))
    with path.open("r+b") as handle:
        while left > 0:
            step = min(left, len(zeros))
            handle.write(zeros[:step])
            left -= step


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
            _shred_all([folder])
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
