"""The officer database's schema, kept by Alembic migrations (journalist_app/migrations).

Start-up and ``iblagh-officer upgrade`` call :func:`upgrade_to_head`. A database made
before migrations existed (tables, no version table) is adopted only when it matches the
models exactly; otherwise the host refuses to start and says so.
``journalist_app.database.create_schema`` (the models' ``create_all``, stamped at head)
is for tests and benches that say so.

A developer who changes a model adds a migration with one command:
``.venv/bin/python -m scripts.new_migration officer "what changed"``.
"""

import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DatabaseError

from journalist_app.models import Base

VERSION_TABLE = "alembic_version_officer"
MIGRATIONS = Path(__file__).parent / "migrations"
# pg_advisory_xact_lock key: one upgrade at a time when several processes start at once.
_LOCK_KEY = 0x1B1A6801


class SchemaError(RuntimeError):
    """The database cannot be brought to this version's schema; the message says why."""


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def schema_drift(connection: Connection) -> list[Any]:
    """What differs between the database and the models (empty: nothing)."""
    context = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
    )
    return [
        diff
        for diff in compare_metadata(context, Base.metadata)
        if not (diff[0] == "remove_table" and diff[1].name == VERSION_TABLE)
    ]


def upgrade_to_head(engine: Engine, attempts: int = 10) -> str:
    """Apply the migrations this database lacks; returns the revision it is at.

    Several processes may start at once: PostgreSQL serialises them on an advisory lock;
    on SQLite the loser of a race meets a locked or existing table and looks again.
    """
    for attempt in range(attempts):
        try:
            return _upgrade(engine)
        except DatabaseError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _upgrade(engine: Engine) -> str:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        tables = set(inspect(connection).get_table_names())
        ours = {table.name for table in Base.metadata.sorted_tables}
        config = alembic_config(connection)
        if VERSION_TABLE not in tables and tables & ours:
            # Made by create_all before migrations: adopt it only if it is exactly the models.
            drift = schema_drift(connection)
            if drift:
                raise SchemaError(
                    "the officer database predates migrations and differs from this "
                    f"version's schema ({len(drift)} differences, first: {drift[0]!r}); "
                    "restore it under the release it was made with, or see "
                    "docs/operator.md, 'Upgrading'"
                )
            command.stamp(config, "head")
        else:
            before = current_revision(connection)
            command.upgrade(config, "head")
            if before is not None and _passed(config, before, SUMMARY_REVISION):
                _count_summary(connection)
        revision = current_revision(connection)
    assert revision is not None
    return revision


# The migration that added the dashboard's daily summary (journalist_app/stats/summary.py).
SUMMARY_REVISION = "d43c2cc4b2cb"


def _passed(config: Config, before: str, revision: str) -> bool:
    """Whether upgrading from ``before`` to head applied ``revision``."""
    script = ScriptDirectory.from_config(config)
    applied = script.iterate_revisions("head", before)
    return any(step.revision == revision for step in applied)


def _count_summary(connection: Connection) -> None:
    """Count the daily summary of the cases a database held before the migration that
    added it (only then: a database made at a later revision keeps it as it goes)."""
    from journalist_app.stats import summary

    summary.rebuild(connection)


def stamp_head(engine: Engine) -> None:
    """Record a database whose tables ``create_all`` just made as being at head."""
    with engine.begin() as connection:
        command.stamp(alembic_config(connection), "head")
