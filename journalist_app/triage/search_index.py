"""Writing the search index: blind tokens of words, handles and platforms (docs/triage.md).

Terms are normalised (NFKC, case-folded, Arabic diacritics and tatweel removed, alef
forms unified) and turned into keyed tokens (crypto/blind_index.py) with a key derived
from the unit's first intake secret, which only an unlocked keyring holds. Reports are
indexed when they are read (triage/ingest.py), replies when sent, notes when added.
"""

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from crypto.blind_index import blind_token, derive_search_key
from crypto.contents import ReportBody
from journalist_app.diagnostics.urls import account_of_url, parse_handle, platform_of
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import SearchToken, UnitKey

MAX_WORDS = 5_000
_WORD = re.compile(r"\w+", re.UNICODE)
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})

# The Core table, for inserts that skip the ORM (ingest writes many tokens per report).
SEARCH_TOKENS: Table = SearchToken.__table__  # type: ignore[assignment]


def search_key(session: Session, keyring: UnlockedKeyring) -> bytes | None:
    """The unit's search key, or None when this keyring does not hold the intake secret
    it derives from (the unit's first intake key: every reading officer holds it)."""
    key_ids = session.scalars(
        select(UnitKey.key_id).where(UnitKey.role == "intake").order_by(UnitKey.created_at)
    ).all()
    for key_id in key_ids[:1]:
        secret = keyring.intake_keys.get(key_id) or keyring.recovery_keys.get(key_id)
        if secret is not None:
            return derive_search_key(bytes(secret))
    return None


def normalise_word(word: str) -> str:
    text = unicodedata.normalize("NFKC", word).casefold()
    return _ARABIC_MARKS.sub("", text).translate(_ALEF)


def words(text: str) -> set[str]:
    found: set[str] = set()
    # Diacritics first: they are not word characters, and would cut words in two.
    for match in _WORD.finditer(_ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", text))):
        word = normalise_word(match.group(0))
        if 2 <= len(word) <= 64:
            found.add(word)
            if len(found) >= MAX_WORDS:
                break
    return found


def word_terms(text: str) -> set[str]:
    return {f"w:{word}" for word in words(text)}


def account_terms(account: str | None) -> set[str]:
    """``platform:handle`` → the account term and the handle term."""
    if not account:
        return set()
    _, _, handle = account.partition(":")
    return {f"a:{account}", f"h:{handle}"}


def body_terms(body: ReportBody) -> tuple[set[str], set[str], set[str]]:
    """(words, accounts, platforms) of a report body."""
    text_terms = word_terms(body.description)
    accounts: set[str] = set()
    platforms: set[str] = set()
    platform = platform_of(body.platform) if body.platform else None
    if platform:
        platforms.add(f"p:{platform}")
    if body.account:
        handle = body.account.strip()
        accounts |= account_terms(parse_handle(handle, platform))
        bare = handle.lstrip("@").lower()
        if bare and " " not in bare and len(bare) <= 64:
            accounts.add(f"h:{bare}")
        if handle.startswith(("http", "www.")) or "/" in handle:
            accounts |= account_terms(account_of_url(handle)[1])
        text_terms |= word_terms(body.account)
    for url in body.urls[:50]:
        url_platform, account = account_of_url(url)
        accounts |= account_terms(account)
        if url_platform:
            platforms.add(f"p:{url_platform}")
    return text_terms, accounts, platforms


def _token_rows(
    key: bytes, terms: Iterable[str], source: str, report_id: str | None, case_id: int | None
) -> list[dict[str, Any]]:
    return [
        {
            "token": blind_token(key, term),
            "report_id": report_id,
            "case_id": case_id,
            "source": source,
        }
        for term in set(terms)
    ]


def _insert_tokens(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        # One executemany on the Core table: ingest writes a few dozen tokens per report,
        # and the ORM's bulk path costs more than the insert itself.
        session.connection().execute(insert(SEARCH_TOKENS), rows)


def add_tokens(
    session: Session,
    key: bytes,
    terms: Iterable[str],
    *,
    source: str,
    report_id: str | None = None,
    case_id: int | None = None,
) -> None:
    _insert_tokens(session, _token_rows(key, terms, source, report_id, case_id))


def index_body(session: Session, key: bytes | None, report_id: str, body: ReportBody) -> None:
    if key is None:
        return
    text_terms, accounts, platforms = body_terms(body)
    _insert_tokens(
        session,
        _token_rows(key, text_terms, "body", report_id, None)
        + _token_rows(key, accounts, "account", report_id, None)
        + _token_rows(key, platforms, "platform", report_id, None),
    )


def index_text(
    session: Session,
    keyring: UnlockedKeyring,
    text: str,
    *,
    source: str,
    report_id: str | None = None,
    case_id: int | None = None,
) -> None:
    """Index a reply (``report_id``) or a note (``case_id``); adds to the transaction."""
    key = search_key(session, keyring)
    if key is not None:
        add_tokens(
            session, key, word_terms(text), source=source, report_id=report_id, case_id=case_id
        )
