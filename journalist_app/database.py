"""Engine and sessions for the officer database (SQLite by default, any SQLAlchemy URL)."""

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from journalist_app.models import Base


def make_engine(url: str) -> Engine:
    """An engine that enforces foreign keys on SQLite too."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    if isinstance(connection, sqlite3.Connection):
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # The CLI sync and the web app may write at once; wait rather than fail.
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Installs the flush listeners that keep the dashboard's daily summary exact.
    import journalist_app.stats.summary  # noqa: F401

    return sessionmaker(engine, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """The models' tables and indexes straight from ``create_all``, stamped at the head
    migration: for tests and benches that say so. A host starts with
    :func:`journalist_app.schema.upgrade_to_head`."""
    from journalist_app.schema import stamp_head  # imports alembic, which hosts load anyway

    Base.metadata.create_all(engine)
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    stamp_head(engine)
