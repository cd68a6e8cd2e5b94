"""Per-app state and per-request access to it: database session, blob store, keyring.

The browser's session cookie holds only a random id naming an unlocked keyring kept in
this process; the keys themselves never leave the server.
"""

from dataclasses import dataclass

from flask import current_app, g, session
from sqlalchemy.orm import Session, sessionmaker

from journalist_app.config import OfficerConfig
from journalist_app.i18n import LANGUAGE_SESSION_KEY
from journalist_app.keys.keyring import KeyringStore, UnlockedKeyring
from journalist_app.sync.blob_store import BlobStore

EXTENSION = "iblagh_officer"
KEYRING_SESSION_KEY = "keyring_id"


@dataclass(frozen=True)
class OfficerState:
    config: OfficerConfig
    session_factory: sessionmaker[Session]
    blob_store: BlobStore
    keyrings: KeyringStore


def state() -> OfficerState:
    value: OfficerState = current_app.extensions[EXTENSION]
    return value


def db() -> Session:
    """This request's database session, closed when the request ends."""
    if "db" not in g:
        g.db = state().session_factory()
    database: Session = g.db
    return database


def close_db(_exc: BaseException | None = None) -> None:
    database = g.pop("db", None)
    if database is not None:
        database.close()


def begin_session(keyring: UnlockedKeyring) -> None:
    """Keep ``keyring`` server-side under a fresh id; drop anything the old cookie held."""
    end_session()
    session[KEYRING_SESSION_KEY] = state().keyrings.open(keyring)


def current_keyring() -> UnlockedKeyring | None:
    session_id = session.get(KEYRING_SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    return state().keyrings.get(session_id)


def end_session() -> None:
    """Forget the keyring in memory; the cookie's id then names nothing. The language stays."""
    session_id = session.pop(KEYRING_SESSION_KEY, None)
    if isinstance(session_id, str):
        state().keyrings.forget(session_id)
    language = session.get(LANGUAGE_SESSION_KEY)
    session.clear()
    if language:
        session[LANGUAGE_SESSION_KEY] = language
