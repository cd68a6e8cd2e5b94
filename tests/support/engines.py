"""What a test can read back of the officer database, on SQLite and on PostgreSQL alike."""

from pathlib import Path

from sqlalchemy import Engine

from journalist_app.models import Base


def stored_bytes(engine: Engine, data_dir: Path) -> bytes:
    """Every file under ``data_dir`` and, on PostgreSQL, every row as ``COPY`` dumps it.

    For the "nothing rests readable" tests: on SQLite the database is one of the files; on
    PostgreSQL its rows are read back in the server's text format (bytea as hex).
    """
    written = b"".join(p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file())
    if engine.dialect.name != "postgresql":
        return written
    with engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        for table in Base.metadata.sorted_tables:
            with cursor.copy(f'COPY "{table.name}" TO STDOUT') as copy:
                written += b"".join(bytes(data) for data in copy)
    return written
