"""Finding cases: by address (any form), handle, platform, file hash, case number, words.

One text box; what the officer typed says what it is (:func:`classify`). Addresses are
normalised as at ingest (refanged, tracking parameters dropped, IDN in punycode) and
looked up by their hash; handles, platforms and words by blind token
(triage/search_index.py); SHA-256, SHA-1 and MD5 exactly; a PDQ hash (or a SHA-256-like
64-hex value) also by distance over every stored PDQ, in memory. Nothing typed here is
written anywhere: the audit entry names the kind of search, not the terms.
"""

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.blind_index import blind_token
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.diagnostics.pdq import DEFAULT_MAX_DISTANCE, PdqIndex
from journalist_app.diagnostics.urls import account_of_url, platform_of
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import (
    AttachmentHashes,
    AttachmentPdq,
    Case,
    ReportAttachment,
    ReportTriage,
    ReportUrl,
    SearchToken,
)
from journalist_app.roles import Permission, requires
from journalist_app.triage.search_index import normalise_word, search_key, words
from journalist_app.triage.urls import normalise_url, refang, url_hash

MAX_RESULTS = 200
_HEX = re.compile(r"[0-9a-fA-F]+")
_CASE_NUMBER = re.compile(r"#?(\d{1,9})")
_HANDLE = re.compile(r"@([\w.\-]{1,64})")
_PLATFORM = re.compile(r"(?:platform|plateforme|plataforma|منصة):\s*(.+)", re.I)
_URLISH = re.compile(r"\S+\.\S+|\S+://\S+")


@dataclass
class SearchResult:
    kind: str
    cases: list[Case] = field(default_factory=list)
    # case id → why it matched (address, file, account, words, reply, note, pdq:N)
    reasons: dict[int, set[str]] = field(default_factory=dict)

    def add(self, case_ids: Iterable[int], reason: str) -> None:
        for case_id in case_ids:
            self.reasons.setdefault(case_id, set()).add(reason)


def classify(query: str) -> str:
    text = query.strip()
    if not text:
        return "empty"
    if _CASE_NUMBER.fullmatch(text):
        return "case"
    if text.lower().startswith("pdq:") or (_HEX.fullmatch(text) and len(text) in (32, 40, 64)):
        return "hash"
    if _HANDLE.fullmatch(text):
        return "handle"
    if _PLATFORM.fullmatch(text):
        return "platform"
    if " " not in text and _URLISH.fullmatch(refang(text)) and normalise_url(text) is not None:
        return "address"
    return "words"


class _PdqCache:
    """Every stored attachment PDQ in one array, rebuilt when rows are added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int, int] | None = None
        self._index = PdqIndex([], [])

    def get(self, session: Session) -> PdqIndex:
        count, top = session.execute(
            select(func.count(), func.coalesce(func.max(AttachmentPdq.id), 0))
        ).one()
        # The database too: one process may open several (tests, the bench).
        key = (str(session.get_bind().engine.url), int(count), int(top))
        with self._lock:
            if key != self._key:
                rows = session.execute(select(AttachmentPdq.report_id, AttachmentPdq.pdq)).all()
                self._index = PdqIndex([r.report_id for r in rows], [r.pdq for r in rows])
                self._key = key
            return self._index


PDQ_CACHE = _PdqCache()


@requires(Permission.REPORTS_READ)
def search(
    session: Session,
    keyring: UnlockedKeyring,
    query: str,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    audit_it: bool = True,
) -> SearchResult:
    """The cases that match ``query``, most urgent first."""
    kind = classify(query)
    result = SearchResult(kind)
    text = query.strip()
    if kind == "case":
        number = int(_CASE_NUMBER.fullmatch(text).group(1))  # type: ignore[union-attr]
        result.add([number], "number")
    elif kind == "hash":
        _by_hash(session, text, max_distance, result)
    elif kind == "handle":
        handle = text[1:].lower()
        result.add(_token_cases(session, keyring, [f"h:{handle}"]), "account")
    elif kind == "platform":
        name = _PLATFORM.fullmatch(text).group(1)  # type: ignore[union-attr]
        platform = platform_of(name) or normalise_word(name)
        result.add(_token_cases(session, keyring, [f"p:{platform}"]), "platform")
    elif kind == "address":
        key = normalise_url(text)
        if key is not None:
            result.add(_url_cases(session, [url_hash(key)]), "address")
        account = account_of_url(text)[1]
        if account:
            result.add(_token_cases(session, keyring, [f"a:{account}"]), "account")
    elif kind == "words":
        terms = sorted(f"w:{word}" for word in words(text))
        if terms:
            result.add(_token_cases(session, keyring, terms, every=True), "words")
    result.cases = _live_cases(session, result.reasons)
    if audit_it:
        # The kind of search only: the terms themselves are never written down.
        audit.record(
            session,
            keyring,
            audit.Action.SEARCHED,
            "",
            {"kind": kind, "results": len(result.cases)},
            now=utc_now(),
        )
        session.commit()
    return result


def _by_hash(session: Session, text: str, max_distance: int, result: SearchResult) -> None:
    value = text.lower().removeprefix("pdq:").strip()
    if len(value) == 64 and not text.lower().startswith("pdq:"):
        reports = session.scalars(
            select(ReportAttachment.report_id).where(ReportAttachment.sha256 == value)
        ).all()
        result.add(_report_cases(session, reports), "file")
    elif len(value) in (32, 40):
        column = AttachmentHashes.md5 if len(value) == 32 else AttachmentHashes.sha1
        reports = session.scalars(select(AttachmentHashes.report_id).where(column == value)).all()
        result.add(_report_cases(session, reports), "file")
    if len(value) == 64 and _HEX.fullmatch(value):
        near = PDQ_CACHE.get(session).near(value, max_distance)
        best: dict[str, int] = {}
        for report_id, distance in near:
            best.setdefault(str(report_id), distance)
        for report_id, distance in best.items():
            result.add(_report_cases(session, [report_id]), f"pdq:{distance}")


def _token_cases(
    session: Session, keyring: UnlockedKeyring, terms: list[str], *, every: bool = False
) -> set[int]:
    key = search_key(session, keyring)
    if key is None or not terms:
        return set()
    found: set[int] | None = None
    for term in terms:
        token = blind_token(key, term)
        reports = select(SearchToken.report_id).where(
            SearchToken.token == token, SearchToken.report_id.is_not(None)
        )
        cases = set(
            session.scalars(select(ReportTriage.case_id).where(ReportTriage.report_id.in_(reports)))
        )
        cases |= set(
            session.scalars(
                select(SearchToken.case_id).where(
                    SearchToken.token == token, SearchToken.case_id.is_not(None)
                )
            )
        )
        found = cases if found is None else (found & cases if every else found | cases)
        if every and not found:
            break
    return found or set()


def _url_cases(session: Session, hashes: list[str]) -> set[int]:
    reports = select(ReportUrl.report_id).where(ReportUrl.url_hash.in_(hashes))
    return set(
        session.scalars(select(ReportTriage.case_id).where(ReportTriage.report_id.in_(reports)))
    )


def _report_cases(session: Session, report_ids: Iterable[str]) -> set[int]:
    ids = list(report_ids)
    if not ids:
        return set()
    return set(session.scalars(select(ReportTriage.case_id).where(ReportTriage.report_id.in_(ids))))


def _live_cases(session: Session, reasons: dict[int, set[str]]) -> list[Case]:
    """The cases found, a merged one replaced by its successor, most urgent first."""
    cases: dict[int, Case] = {}
    for case_id in list(reasons)[: MAX_RESULTS * 2]:
        case = session.get(Case, case_id)
        hops = 0
        while case is not None and case.merged_into_id is not None and hops < 20:
            case = session.get(Case, case.merged_into_id)
            hops += 1
        if case is None:
            continue
        if case.id != case_id:
            reasons.setdefault(case.id, set()).update(reasons[case_id])
        cases[case.id] = case
    ordered = sorted(cases.values(), key=lambda c: (c.priority, c.received, c.id))
    return ordered[:MAX_RESULTS]


@requires(Permission.REPORTS_READ)
def related_cases(
    session: Session, keyring: UnlockedKeyring, case_id: int, *, limit: int = 20
) -> SearchResult:
    """Cases that share an address, a file (exact or PDQ-near), or an account with this one."""
    result = SearchResult("related")
    report_ids = list(
        session.scalars(select(ReportTriage.report_id).where(ReportTriage.case_id == case_id))
    )[:200]
    if report_ids:
        hashes = session.scalars(
            select(ReportUrl.url_hash).where(ReportUrl.report_id.in_(report_ids))
        ).all()
        result.add(_url_cases(session, list(hashes)), "address")
        files = select(ReportAttachment.sha256).where(ReportAttachment.report_id.in_(report_ids))
        same_file = select(ReportAttachment.report_id).where(ReportAttachment.sha256.in_(files))
        result.add(
            session.scalars(
                select(ReportTriage.case_id).where(ReportTriage.report_id.in_(same_file))
            ),
            "file",
        )
        tokens = select(SearchToken.token).where(
            SearchToken.report_id.in_(report_ids), SearchToken.source == "account"
        )
        same_account = select(SearchToken.report_id).where(
            SearchToken.token.in_(tokens), SearchToken.source == "account"
        )
        result.add(
            session.scalars(
                select(ReportTriage.case_id).where(ReportTriage.report_id.in_(same_account))
            ),
            "account",
        )
        pdqs = session.scalars(
            select(AttachmentPdq.pdq).where(
                AttachmentPdq.report_id.in_(report_ids), AttachmentPdq.variant == "full"
            )
        ).all()
        index = PDQ_CACHE.get(session) if pdqs else None
        for pdq in pdqs[:20]:
            assert index is not None
            near = {str(r) for r, _ in index.near(pdq)}
            result.add(_report_cases(session, near), "similar media")
    result.reasons.pop(case_id, None)
    result.cases = [c for c in _live_cases(session, result.reasons) if c.id != case_id][:limit]
    return result
