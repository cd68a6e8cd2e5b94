"""Batch files on an officer host (docs/batch.md): verified, recorded, written whole.

Shared by both directions: journalist_app/airgap/inbound.py and outbound.py. A batch
is verified completely (crypto.batch.read_batch) and checked against this host's
records for a replay before anything in it is used; it is recorded as imported only
once everything in it has been applied; and a batch file appears under its name only
once it is complete.
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TypeVar

from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto.batch import (
    BatchHeader,
    BatchWriter,
    Direction,
    VerifiedBatch,
    check_not_replayed,
    read_batch,
)
from crypto.errors import BatchError, ReplayedBatch
from journalist_app import audit
from journalist_app.audit import Action
from journalist_app.config import OfficerConfig
from journalist_app.errors import KeysNotInitialised, OfficerError
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import BatchRecord, UnitKey

STAGING_DIR = "staging"
BytesRead = Callable[[int], None]
Plan = TypeVar("Plan")


class BatchRefused(OfficerError):
    """A batch failed verification or a replay check; nothing in it was used."""


def staging_root(config: OfficerConfig) -> Path:
    """Where this process stages batch contents: ``data_dir/staging/<pid>``.

    Staging folders are deleted when a command ends, even on an error; only a process
    killed outright leaves one behind, and the next command removes those of processes
    that no longer run.
    """
    root = config.data_dir / STAGING_DIR
    if root.exists():
        for folder in root.iterdir():
            pid = int(folder.name) if folder.name.isdigit() else None
            if pid is not None and pid != os.getpid() and not _running(pid):
                shutil.rmtree(folder, ignore_errors=True)
    return root / str(os.getpid())


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trusted_keys(session: Session, role: str) -> list[VerifyKey]:
    """The Ed25519 keys of ``role`` this host knows; retired ones still verify old batches."""
    keys = session.scalars(select(UnitKey).where(UnitKey.role == role)).all()
    if not keys:
        raise KeysNotInitialised("no unit keys here: run 'keys init' or 'connected-host setup'")
    return [VerifyKey(key.public_key) for key in keys]


def next_sequence(session: Session, direction: Direction) -> int:
    """The next number of a batch this host writes in ``direction``."""
    last = session.scalar(
        select(func.max(BatchRecord.sequence)).where(
            BatchRecord.direction == direction, BatchRecord.action == "exported"
        )
    )
    return (last or 0) + 1


def verify_batch_file(
    session: Session,
    config: OfficerConfig,
    path: Path,
    *,
    direction: Direction,
    signer_role: str,
    progress: BytesRead | None = None,
) -> VerifiedBatch:
    """Read and verify a batch file, then refuse a replay. Typed :class:`BatchRefused`.

    Two passes, so that nothing of a batch is written to this host's disk before its
    signature is known good: the first reads the whole file and checks the signature
    writing nothing; the second stages the contents, and must find the same digest (a
    file changed between the passes is refused and its staging folder removed).
    ``progress`` counts the bytes of both passes (twice the file's size).
    """
    keys = trusted_keys(session, signer_role)
    try:
        with path.open("rb") as source:
            checked = read_batch(source, keys, None, direction=direction, progress=progress)
        with path.open("rb") as source:
            batch = read_batch(
                source, keys, staging_root(config), direction=direction, progress=progress
            )
    except OSError as exc:
        raise BatchRefused(f"cannot read {path}: {exc.strerror or exc}") from exc
    except BatchError as exc:
        raise BatchRefused(refusal(exc)) from exc
    if batch.digest != checked.digest:
        batch.discard()
        raise BatchRefused(f"{path} changed while it was read: import it again")
    try:
        check_not_replayed(
            batch.header,
            already_imported=session.get(BatchRecord, batch.header.batch_id) is not None,
            last_sequence=session.scalar(
                select(func.max(BatchRecord.sequence)).where(
                    BatchRecord.direction == direction, BatchRecord.action == "imported"
                )
            ),
        )
    except BatchError as exc:
        batch.discard()
        raise BatchRefused(refusal(exc)) from exc
    return batch


def record_batch(
    session: Session,
    keyring: UnlockedKeyring,
    header: BatchHeader,
    action: str,
    entries: int,
    digest: bytes,
) -> None:
    """Add the record of a batch written or imported here, and its audit entry.

    The caller commits, so the record and the audit entry land together.
    """
    audit.record(
        session,
        keyring,
        Action.BATCH_EXPORTED if action == "exported" else Action.BATCH_IMPORTED,
        target=f"batch:{header.batch_id}",
        details={
            "direction": header.direction,
            "sequence": header.sequence,
            "entries": entries,
            "sha256": digest.hex(),
        },
    )
    session.add(
        BatchRecord(
            batch_id=header.batch_id,
            direction=header.direction,
            action=action,
            sequence=header.sequence,
            signer=header.signer,
            created_at=header.created_at,
            entries=entries,
            digest=digest.hex(),
        )
    )


def commit_import_record(session: Session, keyring: UnlockedKeyring, batch: VerifiedBatch) -> None:
    """Record an imported batch last of all: a run killed before this can simply re-run."""
    record_batch(session, keyring, batch.header, "imported", len(batch.entries), batch.digest)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise BatchRefused(
            refusal(ReplayedBatch("another import of this batch finished first"))
        ) from exc


def refusal(exc: BatchError) -> str:
    """The one-line message for a refused batch: its class, the reason, and the outcome."""
    return f"batch refused ({type(exc).__name__}): {exc}. Nothing in it was used."


@contextmanager
def atomic_output(path: Path) -> Iterator[tuple[BinaryIO, Callable[[], None]]]:
    """A temporary file beside ``path`` and a ``publish`` function that renames it into place.

    If the block fails, or ends without ``publish``, the temporary file is deleted and
    ``path`` is untouched: a killed export never leaves half a batch under its name.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.")
    published = False
    try:
        with os.fdopen(fd, "wb") as handle:

            def publish() -> None:
                nonlocal published
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(temporary, path)
                published = True

            yield handle, publish
    finally:
        if not published:
            Path(temporary).unlink(missing_ok=True)


@contextmanager
def written_batch(
    session: Session,
    keyring: UnlockedKeyring,
    out_path: Path,
    header: BatchHeader,
    signing_key: SigningKey,
) -> Iterator[BatchWriter]:
    """A writer for the block to add entries to; then the batch is signed and recorded.

    Recorded (and committed) before the file appears under ``out_path``: a sequence
    number is never written twice. If the block fails, nothing appears.
    """
    with atomic_output(out_path) as (handle, publish):
        writer = BatchWriter(handle, signing_key, header)
        yield writer
        digest = writer.close()
        record_batch(session, keyring, header, "exported", writer.count, digest)
        session.commit()
        publish()


def plan_or_refuse(plan: Callable[[VerifiedBatch], Plan], batch: VerifiedBatch) -> Plan:
    """``plan(batch)``: the entries checked against each other, or :class:`BatchRefused`."""
    try:
        return plan(batch)
    except BatchError as exc:
        raise BatchRefused(refusal(exc)) from exc


def ignore(_what: object) -> None:
    """A progress callback for callers that want none."""
    return None
