"""Anchoring the audit chain outside the officer host's database (docs/invariants.md, 11).

The hash chain (audit.py) shows an entry edited alone, but not a chain rewritten from
some entry on with every later hash recomputed, nor its last entries cut off. A
checkpoint signed with the sync key (crypto/audit_anchor.py), which rests only sealed to
officers and is in memory only while one is logged in, names the chain's length and head
at a moment; kept where the officer host cannot change it (the public host keeps them
write-once), it makes both visible: the entry it counts must still carry the hash it names.

Every anchor sent (online sync or outbound batch) is also copied into the data folder's
``audit-anchors/``, which ``audit verify`` checks by default: that catches a rewrite by
whoever can write the database but not this folder (a database on another server, a
stolen and returned copy). Root on this host can delete the copies too — verify then says
no anchor is kept here — which is why the public host's copy (``--officer``) and a copy
off the host (``--anchor``) remain the proof.
"""

import hashlib
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from nacl.signing import SigningKey, VerifyKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.audit_anchor import (
    Checkpoint,
    SignedCheckpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
)
from crypto.errors import CryptoError
from journalist_app.audit import GENESIS_HASH, ChainCheck, verify_chain
from journalist_app.models import UnitKey
from journalist_app.models.audit import AuditEntry
from journalist_app.sync.client import SyncClient


def current_checkpoint(session: Session, now: datetime | None = None) -> Checkpoint:
    """The chain's length and head hash as stored now."""
    head = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    moment = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if head is None:
        return Checkpoint(0, GENESIS_HASH, moment)
    return Checkpoint(head.id, head.hash, moment)


def sign_current_checkpoint(
    session: Session, signing_key: SigningKey, now: datetime | None = None
) -> bytes:
    """A signed checkpoint of the chain as it stands (the document the public host keeps)."""
    return sign_checkpoint(current_checkpoint(session, now), signing_key)


def anchor_keys(session: Session) -> list[VerifyKey]:
    """The keys a checkpoint may be signed with: the unit's sync keys, retired ones too."""
    return [
        VerifyKey(key.public_key)
        for key in session.scalars(select(UnitKey).where(UnitKey.role == "sync"))
    ]


def verify_against_anchor(
    session: Session, document: bytes, verify_keys: Iterable[VerifyKey] | None = None
) -> tuple[ChainCheck, SignedCheckpoint]:
    """Check the chain, then that it still holds the anchored entry with the anchored hash.

    Raises :class:`crypto.errors.CryptoError` when the anchor is malformed or not signed by
    the unit's sync key.
    """
    anchor = verify_checkpoint(
        document, anchor_keys(session) if verify_keys is None else verify_keys
    )
    mark = anchor.checkpoint
    check = verify_chain(session)
    if not check.intact or mark.count == 0:
        return check, anchor
    if check.count < mark.count:
        return (
            ChainCheck(
                check.count,
                check.head,
                None,
                f"the anchor of {mark.time} counted {mark.count} entries and the log holds "
                f"{check.count}: entries were removed from its end",
            ),
            anchor,
        )
    anchored = session.get(AuditEntry, mark.count)
    if anchored is None or anchored.hash != mark.head:
        return (
            ChainCheck(
                check.count,
                check.head,
                None,
                f"entry {mark.count} is not the one anchored at {mark.time}: the log was "
                "rewritten up to it (every hash recomputed)",
            ),
            anchor,
        )
    return check, anchor


ANCHOR_FOLDER = "audit-anchors"


def keep_anchor_copy(data_dir: Path, document: bytes) -> Path:
    """Write a sent anchor into ``data_dir/audit-anchors/`` (durably; never overwritten)."""
    count = parse_checkpoint(document)[0].count
    folder = data_dir / ANCHOR_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    digest = hashlib.sha256(document).hexdigest()[:16]
    path = folder / f"{count:012d}-{digest}.json"
    if path.exists():
        return path
    temporary = folder / f".{path.name}.tmp"
    with temporary.open("wb") as handle:
        handle.write(document)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def latest_kept_anchor(data_dir: Path) -> tuple[Path, bytes] | None:
    """The kept anchor that counts the most entries (file names sort by count), if any."""
    kept = sorted((data_dir / ANCHOR_FOLDER).glob("[0-9]*-*.json"))
    return (kept[-1], kept[-1].read_bytes()) if kept else None


def anchor_audit_chain(
    session: Session, client: SyncClient, signing_key: SigningKey, data_dir: Path | None = None
) -> tuple[int, str]:
    """At each sync: check the log against the latest anchor the public host keeps, then
    send a new one; (entries anchored, "") or (0, the problem) when the log no longer
    matches, so that a rewritten log is never anchored in its turn."""
    kept = client.fetch_latest_audit_anchor()
    if kept is not None:
        try:
            check, _ = verify_against_anchor(session, kept)
        except CryptoError as exc:
            return 0, f"the anchor it keeps is not the unit's: {exc}"
        if not check.intact:
            return 0, check.problem
    document = sign_current_checkpoint(session, signing_key)
    client.push_audit_anchor(document)
    if data_dir is not None:
        keep_anchor_copy(data_dir, document)
    return parse_checkpoint(document)[0].count, ""
