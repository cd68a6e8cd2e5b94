"""The public host's long-lived parts, built once per process and shared by both apps."""

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from crypto.recipients import RecipientSet
from source_app.config import SourceConfig
from source_app.db import make_engine, make_session_factory
from source_app.limits import Limits
from source_app.recipients import load_recipient_set
from source_app.services.maintenance import sweep_orphans
from source_app.storage import BlobStore, LocalBlobStore

EXTENSION_KEY = "iblagh_host"


@dataclass(frozen=True)
class PublicHost:
    """Configuration, database, blob store, the verified recipient set, this process's limits."""

    config: SourceConfig
    sessions: sessionmaker[Session]
    store: BlobStore
    recipient_set: RecipientSet
    signed_recipient_set: bytes
    limits: Limits


def build_host(config: SourceConfig) -> PublicHost:
    """Verify the recipient set first: without a valid one the host must not start."""
    recipient_set, signed = load_recipient_set(config)
    sessions = make_session_factory(make_engine(config.database_url))
    store = LocalBlobStore(config.blob_dir)
    with sessions() as session:
        sweep_orphans(session, store, grace_seconds=config.orphan_grace_seconds)
    return PublicHost(config, sessions, store, recipient_set, signed, Limits.from_config(config))


def current_host() -> PublicHost:
    host: PublicHost = current_app.extensions[EXTENSION_KEY]
    return host


def db_session() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_host().sessions()
    session: Session = g.db_session
    return session


def close_db_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
