"""The public host's long-lived parts, built once per process and shared by both apps."""

from dataclasses import dataclass

from flask import current_app, g
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from crypto.recipients import RecipientSet
from source_app.config import ConfigError, SourceConfig
from source_app.db import make_engine, make_session_factory
from source_app.limits import Limits
from source_app.models import RecipientSetSerial
from source_app.recipients import load_recipient_set
from source_app.services.maintenance import expire_leftovers, sweep_orphans
from source_app.storage import BlobStore
from source_app.storage_s3 import open_blob_store

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
    store = open_blob_store(config)
    with sessions() as session:
        refuse_rollback(session, recipient_set.serial)
        sweep_orphans(session, store, grace_seconds=config.orphan_grace_seconds)
        expire_leftovers(
            session,
            store,
            reply_days=config.reply_retention_days,
            reporter_days=config.reporter_retention_days,
        )
    return PublicHost(config, sessions, store, recipient_set, signed, Limits.from_config(config))


def refuse_rollback(session: Session, serial: int) -> None:
    """Refuse a validly signed but older recipient set than one already run on.

    A set's signature proves the unit issued it, not that it is current: an attacker who
    kept an old set (sealed to a rotated-out intake key it may have stolen) could put it
    back. The serials this host has run on are remembered, so going back stops start-up.
    """
    newest = session.scalar(select(func.max(RecipientSetSerial.serial)))
    if newest is not None and serial < newest:
        raise ConfigError(
            f"refusing to start: the recipient set has serial {serial}, but this host already "
            f"ran on serial {newest}; install the unit's current recipient-set.json"
        )
    if session.get(RecipientSetSerial, serial) is None:
        session.add(RecipientSetSerial(serial=serial))
        try:
            session.commit()
        except IntegrityError:  # another worker recorded it first
            session.rollback()


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
