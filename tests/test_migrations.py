"""Alembic migrations of both databases, on SQLite and on PostgreSQL (``database_url``)."""

from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.exc import DatabaseError

import journalist_app.schema as officer_schema
import source_app.schema as source_schema
from journalist_app.models import AuditEntry, Case, Report, ReportBlob, ReportTriage
from journalist_app.models import Base as OfficerBase
from source_app import create_app
from source_app.config import SourceConfig
from source_app.db import make_engine as make_source_engine
from source_app.models import Base as SourceBase
from source_app.models import Reporter, Submission, SubmissionBlob
from tests.conftest import ReporterActions, source_environ
from tests.support.triage import make_world

SCHEMAS = {"officer": officer_schema, "source": source_schema}


def _engine(app: str, url: str) -> Engine:
    if app == "source":
        return make_source_engine(url)
    from journalist_app.database import make_engine

    return make_engine(url)


@pytest.mark.parametrize("app", ["officer", "source"])
def test_an_empty_database_migrates_to_head_matching_the_models(
    app: str, database_url: str
) -> None:
    """The drift check: models changed without a migration fail here (see CONTRIBUTING.md)."""
    schema: ModuleType = SCHEMAS[app]
    engine = _engine(app, database_url)
    assert schema.upgrade_to_head(engine) == schema.head_revision()
    with engine.connect() as connection:
        assert schema.schema_drift(connection) == []
        assert schema.current_revision(connection) == schema.head_revision()
        tables = set(inspect(connection).get_table_names())
    # Each app keeps its own version table: both may share one PostgreSQL database.
    assert schema.VERSION_TABLE in tables and "alembic_version" not in tables
    assert schema.upgrade_to_head(engine) == schema.head_revision()  # idempotent
    engine.dispose()


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)) or 0)


def _forget_migrations(engine: Engine, schema: ModuleType) -> None:
    """What a database made by create_all before this release looks like: no version table."""
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE {schema.VERSION_TABLE}"))


def test_a_public_host_database_from_before_migrations_keeps_every_row(
    database_url: str, source_data_dir: Path
) -> None:
    config = SourceConfig.from_env(source_environ(source_data_dir, database_url))
    reporter = ReporterActions(create_app(config).test_client())
    code = reporter.report(files=[(b"\x89PNG evidence", "capture.png")])
    reporter.follow_up(code)
    engine = make_source_engine(database_url)
    _forget_migrations(engine, source_schema)
    before = {m: _count(engine, m) for m in (Reporter, Submission, SubmissionBlob)}
    assert before[Submission] == 2 and before[SubmissionBlob] == 3

    assert source_schema.upgrade_to_head(engine) == source_schema.head_revision()
    assert {m: _count(engine, m) for m in before} == before
    # And the host runs on it: the code still reads its report's status.
    status, _page = ReporterActions(create_app(config).test_client()).status(code)
    assert status == 200
    engine.dispose()


def test_an_officer_database_from_before_migrations_keeps_every_row(
    database_url: str, tmp_path: Path
) -> None:
    for world in make_world(tmp_path, database_url):
        first = world.add_report({"category": "terrorism", "urls": ["https://t.me/x/1"]})
        world.add_report({"category": "terrorism", "urls": ["https://t.me/x/1"]})
        world.add_report({"category": "fraud", "description": "another"})
        engine = world.session.get_bind()
        assert isinstance(engine, Engine)
        world.session.commit()
        _forget_migrations(engine, officer_schema)
        models = (Report, ReportBlob, ReportTriage, Case)
        before = {m: _count(engine, m) for m in models}
        assert before[Report] == 3

        assert officer_schema.upgrade_to_head(engine) == officer_schema.head_revision()
        assert {m: _count(engine, m) for m in models} == before
        world.session.expire_all()
        assert world.session.get(Report, first) is not None


@pytest.mark.parametrize("app", ["officer", "source"])
def test_a_database_from_before_migrations_that_differs_is_refused_untouched(
    app: str, database_url: str
) -> None:
    schema: ModuleType = SCHEMAS[app]
    base = OfficerBase if app == "officer" else SourceBase
    engine = _engine(app, database_url)
    # An older release's schema: one table short.
    missing = base.metadata.sorted_tables[-1]
    base.metadata.create_all(
        engine, tables=[t for t in base.metadata.sorted_tables if t is not missing]
    )
    with pytest.raises(schema.SchemaError, match="predates migrations"):
        schema.upgrade_to_head(engine)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
    assert schema.VERSION_TABLE not in tables and missing.name not in tables
    engine.dispose()


def test_the_upgrade_commands_say_what_they_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from journalist_app.cli.main import main as officer_main
    from source_app.cli import main as source_main

    monkeypatch.setenv("IBLAGH_DATA_DIR", str(tmp_path / "officer"))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    assert officer_main(["upgrade"]) == 0
    assert (
        f"upgraded from no version to {officer_schema.head_revision()}" in capsys.readouterr().out
    )
    assert officer_main(["upgrade"]) == 0
    assert "already at" in capsys.readouterr().out

    monkeypatch.setenv("IBLAGH_DATA_DIR", str(tmp_path / "source"))
    assert source_main(["upgrade"]) == 0
    assert f"upgraded from no version to {source_schema.head_revision()}" in capsys.readouterr().out


def test_a_migrated_officer_database_refuses_to_rewrite_its_audit_log(database_url: str) -> None:
    """The append-only triggers come with the migration, not only with create_all."""
    from journalist_app.database import make_engine

    engine = make_engine(database_url)
    officer_schema.upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entries (id, time, actor, action, target, details, "
                "prev_hash, hash) VALUES (1, 't', 'alice', 'a', 'x', '{}', 'p', 'h')"
            )
        )
    for statement in (
        "UPDATE audit_entries SET actor = 'mallory'",
        "DELETE FROM audit_entries",
    ):
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert _count(engine, AuditEntry) == 1
    engine.dispose()
