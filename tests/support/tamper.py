"""The officer database as someone who writes it directly sees it (not through the app).

Audit tests play that person on SQLite and on PostgreSQL alike: drop the append-only
triggers, then edit rows with plain SQL. Statements use ``?`` placeholders, as sqlite3 does.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, text

_PLACEHOLDER = re.compile(r"\?")
_DROP_TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_entries_no_update", "DROP TRIGGER audit_entries_no_delete"],
    "postgresql": ["DROP TRIGGER audit_entries_append_only ON audit_entries"],
}


class DirectWriter:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def execute(self, statement: str, parameters: tuple[Any, ...] = ()) -> None:
        count = iter(range(len(parameters)))
        named = _PLACEHOLDER.sub(lambda _match: f":p{next(count)}", statement)
        self.connection.execute(text(named), {f"p{n}": v for n, v in enumerate(parameters)})

    def executemany(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        for parameters in rows:
            self.execute(statement, parameters)

    def drop_audit_triggers(self) -> None:
        for statement in _DROP_TRIGGERS[self.connection.dialect.name]:
            self.connection.execute(text(statement))


@contextmanager
def direct_writer(database_url: str, session: Any = None) -> Iterator[DirectWriter]:
    """One transaction on the database at ``database_url``, committed when the block ends.

    ``session`` (the test's own) is rolled back first: on PostgreSQL its open transaction
    would otherwise hold the lock DROP TRIGGER waits for."""
    if session is not None:
        session.rollback()
    engine = create_engine(database_url)
    try:
        with engine.begin() as connection:
            yield DirectWriter(connection)
    finally:
        engine.dispose()
