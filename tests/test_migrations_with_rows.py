"""Each migration upgrades a database full of real rows, on SQLite and on PostgreSQL.

For every revision R after the first (of either app), a database is brought to R's
``down_revision`` with Alembic, filled with rows the application itself wrote, then
upgraded to head by ``upgrade_to_head`` (what start-up runs). Every row of every table
that existed at the older revision is still there, by primary key.

The rows come from a "donor" SQLite database the application fills at head (a unit with
officers, reports, cases moved along the workflow, notes and the audit chain; or a
public host with reports, files and a follow-up), copied into the older schema column by
column: columns added by later migrations are left out, which is what the older schema
is. A migration that adds revisions needs nothing here: it is picked up by itself.
"""

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, Table, select

import journalist_app.schema as officer_schema
import source_app.schema as source_schema
from journalist_app.models import Base as OfficerBase
from journalist_app.models import Case, Officer
from source_app import create_app
from source_app.config import SourceConfig
from source_app.db import make_engine as make_source_engine
from source_app.models import Base as SourceBase
from tests.conftest import ReporterActions, source_environ
from tests.support.triage import ANALYST, make_world

SCHEMAS: dict[str, ModuleType] = {"officer": officer_schema, "source": source_schema}
BASES = {"officer": OfficerBase, "source": SourceBase}


def _later_revisions(app: str) -> list[tuple[str, str]]:
    """(revision, down_revision) of every migration that has a predecessor, oldest first."""
    scripts = ScriptDirectory.from_config(SCHEMAS[app].alembic_config())
    pairs = []
    for script in reversed(list(scripts.walk_revisions())):
        down = script.down_revision
        if down is None:
            continue
        assert isinstance(down, str), f"{app} {script.revision}: merge revisions need a test"
        pairs.append((script.revision, down))
    return pairs


CASES = [
    pytest.param(app, revision, down, id=f"{app}-{revision}")
    for app in ("officer", "source")
    for revision, down in _later_revisions(app)
]


def _engine(app: str, url: str) -> Engine:
    if app == "source":
        return make_source_engine(url)
    from journalist_app.database import make_engine

    return make_engine(url)


def _officer_donor(tmp_path: Path) -> Iterator[Engine]:
    from journalist_app.triage.ingest import index_pending
    from journalist_app.triage.notes import add_note
    from journalist_app.triage.workflow import assign_case, change_status

    for world in make_world(tmp_path / "donor"):
        world.add_report({"category": "terrorism", "urls": ["https://t.me/x/1"]})
        world.add_report({"category": "terrorism", "urls": ["https://t.me/x/1"]})
        world.add_report(
            {"category": "fraud", "description": "another"}, attachments=[("a.png", b"\x89PNG")]
        )
        index_pending(world.session, world.store, world.supervisor)
        case_ids = sorted(world.session.scalars(select(Case.id).where(Case.status == "new")))
        assert len(case_ids) >= 2
        change_status(world.session, world.analyst, case_ids[0], "triaged")
        change_status(world.session, world.analyst, case_ids[0], "under_investigation")
        change_status(world.session, world.analyst, case_ids[1], "closed", "not_illegal")
        analyst = world.session.scalar(select(Officer.id).where(Officer.username == ANALYST))
        assign_case(world.session, world.supervisor, case_ids[0], analyst)
        add_note(world.session, world.analyst, case_ids[0], "the channel moved")
        world.session.commit()
        engine = world.session.get_bind()
        assert isinstance(engine, Engine)
        yield engine


def _source_donor(data_dir: Path) -> Iterator[Engine]:
    config = SourceConfig.from_env(source_environ(data_dir))
    reporter = ReporterActions(create_app(config).test_client())
    code = reporter.report(files=[(b"\x89PNG evidence", "capture.png")])
    reporter.follow_up(code)
    reporter.report(description="A second report, with no file.")
    engine = make_source_engine(config.database_url)
    yield engine
    engine.dispose()


def _copy_rows(app: str, donor: Engine, target: Engine) -> dict[str, set[tuple[Any, ...]]]:
    """The donor's rows into the target's (older) tables; returns each table's keys."""
    older = MetaData()
    older.reflect(target)
    copied: dict[str, set[tuple[Any, ...]]] = {}
    with donor.connect() as source, target.begin() as destination:
        for table in BASES[app].metadata.sorted_tables:
            if table.name not in older.tables:
                continue  # added by a later migration
            old: Table = older.tables[table.name]
            columns = [c for c in table.columns if c.name in old.columns]
            missing = [
                c.name
                for c in old.columns
                if c.name not in table.columns and not c.nullable and c.server_default is None
            ]
            assert not missing, (
                f"{table.name}.{missing} is required at the older revision and gone at head: "
                "give this test a value for it"
            )
            rows = [dict(row._mapping) for row in source.execute(select(*columns))]
            if rows:
                # Head's types (they read and write the values), the older table's columns.
                narrowed = Table(table.name, MetaData(), *(c._copy() for c in columns))
                destination.execute(narrowed.insert(), rows)
            copied[table.name] = _keys(destination, old)
    return copied


def _keys(connection: Any, table: Table) -> set[tuple[Any, ...]]:
    key = list(table.primary_key.columns) or list(table.columns)
    return {tuple(row) for row in connection.execute(select(*key))}


@pytest.mark.parametrize(("app", "revision", "down"), CASES)
def test_a_database_one_migration_behind_keeps_every_row_at_head(
    app: str, revision: str, down: str, database_url: str, tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    schema = SCHEMAS[app]
    target = _engine(app, database_url)
    with target.begin() as connection:
        command.upgrade(schema.alembic_config(connection), down)
    with target.connect() as connection:
        assert schema.current_revision(connection) == down

    if app == "officer":
        donors = _officer_donor(tmp_path)
    else:
        donors = _source_donor(request.getfixturevalue("source_data_dir"))
    for donor in donors:
        before = _copy_rows(app, donor, target)
    assert sum(len(keys) for keys in before.values()) > 10, before
    filled = [name for name, keys in before.items() if keys]

    assert schema.upgrade_to_head(target) == schema.head_revision()
    after = MetaData()
    after.reflect(target)
    with target.connect() as connection:
        assert schema.schema_drift(connection) == []
        for name in filled:
            assert name in after.tables, f"{revision} dropped {name} and its rows"
            assert _keys(connection, after.tables[name]) >= before[name], name
    target.dispose()
