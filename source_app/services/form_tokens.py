"""One-time form tokens: the same report form posted twice files one report.

The token is a random value in a hidden field of the report form. It is spent by
inserting its hash in the same database transaction that commits the report, so "the
token is spent" and "the report is stored" are one fact: a crash leaves neither, and of
two concurrent POSTs of one form (a double click, a reload of the receipt page, two
replicas) exactly one commits. Every worker and replica shares the database, so this
needs no Redis; a Redis claim could not be part of that commit, and would either lose a
report (claimed, then the commit failed) or let two through.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from source_app.models import UsedFormToken
from source_app.services.clock import current_hour

MAX_FORM_TOKEN_LENGTH = 64
KEEP_USED_TOKENS = timedelta(days=1)


class AlreadySubmitted(Exception):
    """This form's report was already stored; nothing was stored a second time."""


def new_form_token() -> str:
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(b"iblagh-form-token/1" + token.encode("utf-8")).digest()


def is_spent(session: Session, token: str | None) -> bool:
    """Whether a report already committed with ``token`` (a cheap check before the work)."""
    if not token:
        return False
    found = session.scalar(
        select(UsedFormToken.token_hash).where(UsedFormToken.token_hash == token_hash(token))
    )
    return found is not None


def spend_in_transaction(session: Session, token: str | None) -> None:
    """Add the token's row to the transaction that commits the report; forget old ones."""
    if not token:
        return
    hour = current_hour()
    session.execute(delete(UsedFormToken).where(UsedFormToken.used_hour < hour - KEEP_USED_TOKENS))
    session.add(UsedFormToken(token_hash=token_hash(token), used_hour=hour))
