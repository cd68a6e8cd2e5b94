"""Lists of known illegal media: import (CSV or JSON), and matching attachments to them.

A list is imported whole or not at all: every row is checked first, and one malformed
row refuses the file with its line number, before anything is written. An attachment
matches an entry exactly (SHA-256 or MD5) or by PDQ within a distance (31 by default);
a match raises its case to urgent, labels it, and relates the cases that match the same
entry (journalist_app/triage/grouping.py).
"""

import csv
import hashlib
import io
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.diagnostics.pdq import DEFAULT_MAX_DISTANCE, PdqIndex, valid_pdq
from journalist_app.errors import OfficerError
from journalist_app.models import (
    AttachmentHashes,
    AttachmentPdq,
    HashList,
    HashListEntry,
    HashMatch,
    ReportAttachment,
)

MAX_LIST_BYTES = 512 * 1024 * 1024
MAX_LABEL_CHARS = 200
FIELDS = ("sha256", "md5", "pdq", "label", "source")
_HEX = frozenset("0123456789abcdef")


class HashListRefused(OfficerError):
    """The list is malformed; nothing of it was imported."""


@dataclass(frozen=True)
class Entry:
    sha256: str | None
    md5: str | None
    pdq: str | None
    label: str
    source: str


@dataclass(frozen=True)
class ImportResult:
    list_id: int
    entries: int
    matches: int


def parse_list(raw: bytes, name: str = "") -> list[Entry]:
    """Every entry of a CSV or JSON list, or :class:`HashListRefused` naming the first fault."""
    if len(raw) > MAX_LIST_BYTES:
        raise HashListRefused("the list is larger than 512 MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HashListRefused("the list is not UTF-8 text") from exc
    stripped = text.lstrip()
    if name.lower().endswith(".json") or stripped.startswith(("[", "{")):
        rows = _json_rows(stripped)
    else:
        rows = _csv_rows(text)
    entries = [_entry(row, where) for where, row in rows]
    if not entries:
        raise HashListRefused("the list holds no entry")
    return entries


def _json_rows(text: str) -> list[tuple[str, dict[str, object]]]:
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise HashListRefused(f"the list is not valid JSON: {exc}") from exc
    if isinstance(document, dict):
        document = document.get("entries")
    if not isinstance(document, list):
        raise HashListRefused('a JSON list is an array of entries, or {"entries": [...]}')
    rows = []
    for index, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise HashListRefused(f"entry {index} is not an object")
        rows.append((f"entry {index}", item))
    return rows


def _csv_rows(text: str) -> list[tuple[str, dict[str, object]]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [(field or "").strip().lower() for field in reader.fieldnames or []]
    if "label" not in header or not {"sha256", "md5", "pdq"} & set(header):
        raise HashListRefused("the CSV header needs label and at least one of sha256, md5, pdq")
    reader.fieldnames = header
    rows: list[tuple[str, dict[str, object]]] = []
    try:
        for row in reader:
            if None in row:
                raise HashListRefused(f"line {reader.line_num} has more fields than the header")
            rows.append((f"line {reader.line_num}", dict(row)))
    except csv.Error as exc:
        raise HashListRefused(f"line {reader.line_num}: {exc}") from exc
    return rows


def _hex(value: object, length: int, what: str, where: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise HashListRefused(f"{where}: {what} is not text")
    text = value.strip().lower()
    if len(text) != length or not set(text) <= _HEX:
        raise HashListRefused(f"{where}: {what} is not {length} hexadecimal digits")
    return text


def _entry(row: dict[str, object], where: str) -> Entry:
    sha256 = _hex(row.get("sha256"), 64, "sha256", where)
    md5 = _hex(row.get("md5"), 32, "md5", where)
    pdq = _hex(row.get("pdq"), 64, "pdq", where)
    if pdq is not None and not valid_pdq(pdq):
        raise HashListRefused(f"{where}: pdq is not a PDQ hash")
    if sha256 is None and md5 is None and pdq is None:
        raise HashListRefused(f"{where}: no sha256, md5 or pdq")
    label, source = row.get("label"), row.get("source", "")
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_CHARS:
        raise HashListRefused(f"{where}: label is missing or longer than {MAX_LABEL_CHARS}")
    if not isinstance(source, str) or len(source) > MAX_LABEL_CHARS:
        raise HashListRefused(f"{where}: source is not text of at most {MAX_LABEL_CHARS}")
    return Entry(sha256, md5, pdq, " ".join(label.split()), " ".join(source.split()))


def import_list(
    session: Session,
    actor: str,
    raw: bytes,
    name: str,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    signed_by: str = "",
    now: datetime | None = None,
) -> ImportResult:
    """Parse, store and match a whole list in one transaction. Commits.

    ``max_distance`` is the list's own PDQ match distance, kept with it: every later
    report is matched against this list within it too."""
    now = now or utc_now()
    entries = parse_list(raw, name)
    digest = hashlib.sha256(raw).hexdigest()
    record = HashList(
        name=name[:200] or "list",
        imported_by=actor,
        imported_at=now,
        entry_count=len(entries),
        file_sha256=digest,
        max_distance=max_distance,
    )
    session.add(record)
    session.flush()
    session.info["hash_lists"] = True
    session.add_all(
        HashListEntry(
            list_id=record.id,
            sha256=e.sha256,
            md5=e.md5,
            pdq=e.pdq,
            label=e.label,
            source=e.source,
        )
        for e in entries
    )
    session.flush()
    audit.record(
        session,
        actor,
        audit.Action.HASHLIST_IMPORTED,
        f"hashlist:{record.id}",
        {
            "name": record.name,
            "entries": len(entries),
            "sha256": digest,
            **({"signed_by": signed_by} if signed_by else {}),
        },
        now=now,
    )
    matches = rematch_all(session, now=now)
    session.commit()
    return ImportResult(record.id, len(entries), matches)


def lists_exist(session: Session) -> bool:
    """Whether any hash list is imported; a session that saw none does not ask again
    (an import sets the flag in its own session)."""
    cached = session.info.get("hash_lists")
    if cached is not None:
        return bool(cached)
    present = session.scalar(select(HashListEntry.id).limit(1)) is not None
    session.info["hash_lists"] = present
    return present


class _ListIndex:
    """The PDQ hashes of every list entry, in memory, rebuilt when the lists change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int, int] | None = None
        self._index = PdqIndex([], [])
        # entry id → the PDQ distance its list was imported with
        self.allowed: dict[int, int] = {}

    def get(self, session: Session) -> PdqIndex:
        count, top = session.execute(
            select(func.count(), func.coalesce(func.max(HashListEntry.id), 0)).where(
                HashListEntry.pdq.is_not(None)
            )
        ).one()
        # The database too: one process may open several (tests, the bench).
        key = (str(session.get_bind().engine.url), int(count), int(top))
        with self._lock:
            if key != self._key:
                rows = session.execute(
                    select(HashListEntry.id, HashListEntry.pdq, HashList.max_distance)
                    .join(HashList, HashList.id == HashListEntry.list_id)
                    .where(HashListEntry.pdq.is_not(None))
                ).all()
                self._index = PdqIndex([r.id for r in rows], [r.pdq for r in rows])
                self.allowed = {r.id: r.max_distance for r in rows}
                self._key = key
            return self._index


LIST_INDEX = _ListIndex()


def match_attachment(
    session: Session,
    report_id: str,
    blob_name: str,
    *,
    sha256: str | None,
    md5: str | None,
    pdqs: Iterable[str],
    now: datetime | None = None,
) -> list[HashMatch]:
    """Record every list entry this attachment matches (adds to the session). A PDQ match
    counts within the distance the entry's list was imported with (31 by default)."""
    if not lists_exist(session):
        return []
    now = now or utc_now()
    found: dict[int, tuple[str, int]] = {}
    if sha256:
        for entry_id in session.scalars(
            select(HashListEntry.id).where(HashListEntry.sha256 == sha256)
        ):
            found[entry_id] = ("sha256", 0)
    if md5:
        for entry_id in session.scalars(select(HashListEntry.id).where(HashListEntry.md5 == md5)):
            found.setdefault(entry_id, ("md5", 0))
    index = LIST_INDEX.get(session)
    widest = max(LIST_INDEX.allowed.values(), default=0)
    for pdq in pdqs:
        for entry_key, dist in index.near(pdq, widest):
            key = int(str(entry_key))
            if dist > LIST_INDEX.allowed.get(key, DEFAULT_MAX_DISTANCE):
                continue
            if key not in found or (found[key][0] == "pdq" and found[key][1] > dist):
                found[key] = ("pdq", dist)
    if not found:
        return []
    existing = set(
        session.scalars(
            select(HashMatch.entry_id).where(
                HashMatch.report_id == report_id, HashMatch.blob_name == blob_name
            )
        )
    )
    labels = {
        row.id: row.label
        for row in session.execute(
            select(HashListEntry.id, HashListEntry.label).where(HashListEntry.id.in_(list(found)))
        )
    }
    made = []
    for entry_id, (how, dist) in found.items():
        if entry_id in existing:
            continue
        match = HashMatch(
            report_id=report_id,
            blob_name=blob_name,
            entry_id=entry_id,
            how=how,
            distance=dist,
            label=labels.get(entry_id, ""),
            matched_at=now,
        )
        session.add(match)
        made.append(match)
    session.flush()
    return made


def rematch_all(session: Session, *, now: datetime | None = None) -> int:
    """Match every stored attachment against the lists (after an import). Returns how many
    new matches; their cases are raised and related (triage.grouping.apply_hash_matches)."""
    from journalist_app.triage.grouping import apply_hash_matches

    now = now or utc_now()
    hashes = {
        (row.report_id, row.blob_name): row.md5 for row in session.scalars(select(AttachmentHashes))
    }
    pdqs: dict[tuple[str, str], list[str]] = {}
    for row in session.scalars(select(AttachmentPdq)):
        pdqs.setdefault((row.report_id, row.blob_name), []).append(row.pdq)
    made: list[HashMatch] = []
    for fact in session.scalars(select(ReportAttachment)):
        key = (fact.report_id, fact.blob_name)
        made += match_attachment(
            session,
            fact.report_id,
            fact.blob_name,
            sha256=fact.sha256,
            md5=hashes.get(key),
            pdqs=pdqs.get(key, ()),
            now=now,
        )
    apply_hash_matches(session, made, now)
    return len(made)
