"""Database engine and sessions for the public host: SQLite by default, PostgreSQL by URL."""

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from source_app.models import Base
from source_app.schema import stamp_head, upgrade_to_head


def make_engine(database_url: str) -> Engine:
    """An engine whose commits are durable: SQLite in WAL mode with full fsync."""
    if database_url.startswith("sqlite"):
        engine = create_engine(database_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted rows (acknowledged submissions) are overwritten, not left in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            # Sorts and temporary tables stay in memory, never in the system temp dir.
            cursor.execute("PRAGMA temp_store=MEMORY")
            cursor.close()

        return engine
    return create_engine(database_url, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Bring the database to this release's schema (migrations) and return the factory.

    Every gunicorn worker does this at boot; source_app.schema serialises them.
    """
    upgrade_to_head(engine)
    return sessionmaker(engine, expire_on_commit=False)


def create_tables(engine: Engine, attempts: int = 10) -> None:
    """The models' tables straight from ``create_all``, stamped at the head migration:
    for tests that say so. A host starts through :func:`make_session_factory`."""
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(engine)
            stamp_head(engine)
            return
        except DatabaseError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
