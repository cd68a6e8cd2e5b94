"""Both hosts in one test process, for tests/test_backup_restore.py.

The officer host is driven through its CLI (``iblagh-officer`` in-process), the public
host through its Flask apps; its sync API listens on loopback (wsgiref in a thread) so
the officer's real sync client pulls from it. On PostgreSQL each host gets a schema of
its own, and a restore target is a fresh database whose ``search_path`` names that same
schema (a dump carries its schema's name).
"""

import gc
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Flask
from sqlalchemy import create_engine, make_url, text

from journalist_app.cli.main import main as officer_main
from source_app import create_app, create_sync_app
from source_app.cli import main as source_main
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY
from tests.conftest import GENEROUS_LIMITS

OFFICER = "nadia"
PASSPHRASE = "a long passphrase for the backup test"


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` on a loopback port; yields its URL."""
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in os.environ for a CLI run in this process, then as before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Hosts:
    """One public host and one officer host: their data dirs and database URLs."""

    source_dir: Path
    officer_dir: Path
    source_url: str = ""
    officer_url: str = ""
    sync_url: str = ""
    # s3://bucket/prefix for both hosts' blobs, and the endpoint serving it; "": folders.
    source_blob_url: str = ""
    officer_blob_url: str = ""
    s3_endpoint: str = ""
    apps: list[Flask] = field(default_factory=list)

    def source_env(self) -> dict[str, str]:
        env = {"IBLAGH_DATA_DIR": str(self.source_dir), **GENEROUS_LIMITS}
        if self.source_url:
            env["IBLAGH_DATABASE_URL"] = self.source_url
        return {**env, **self._blob_env(self.source_blob_url)}

    def _blob_env(self, blob_url: str) -> dict[str, str]:
        if not blob_url:
            return {}
        return {"IBLAGH_BLOB_URL": blob_url, "IBLAGH_BLOB_S3_ENDPOINT": self.s3_endpoint}

    def officer_env(self) -> dict[str, str]:
        env = {
            "IBLAGH_DATA_DIR": str(self.officer_dir),
            "IBLAGH_KDF": "fast",
            "IBLAGH_TESTING": "1",
            "IBLAGH_OFFICER_PASSPHRASE": PASSPHRASE,
            "IBLAGH_SYNC_URL": self.sync_url or "http://127.0.0.1:9",
            "IBLAGH_DATABASE_URL": self.officer_url
            or f"sqlite:///{self.officer_dir / 'officer.sqlite3'}",
        }
        return {**env, **self._blob_env(self.officer_blob_url)}

    def source_config(self) -> SourceConfig:
        return SourceConfig.from_env(self.source_env())

    def site(self) -> Flask:
        app = create_app(self.source_config())
        self.apps.append(app)
        return app

    def sync_app(self) -> Flask:
        app = create_sync_app(self.source_config())
        self.apps.append(app)
        return app

    def officer(self, *args: str, env: dict[str, str] | None = None) -> int:
        try:
            with environment({**self.officer_env(), **(env or {})}):
                return officer_main(list(args))
        finally:
            # A command's session is left to the process's end; here, free it now (its
            # open transaction would otherwise hold a PostgreSQL schema's drop).
            gc.collect()

    def source(self, *args: str) -> int:
        with environment(self.source_env()):
            return source_main(list(args))

    def close(self) -> None:
        """Dispose every engine the apps opened: nothing holds the database after this."""
        for app in self.apps:
            app.extensions[EXTENSION_KEY].sessions.kw["bind"].dispose()
        self.apps.clear()


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A fresh schema in ``base``'s database, dropped after; yields its URL.

    Its connections carry the schema's name as application_name, so the drop can end
    any this test left open (a session in a transaction would hold the drop forever).
    """
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{with_search_path(base, schema)}&application_name={schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": schema},
            )
            connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def postgres_database(base: str) -> Iterator[str]:
    """A fresh, empty database beside ``base``'s, dropped after (even if left connected)."""
    name = f"restore_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def with_search_path(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def schema_of(url: str) -> str:
    options = make_url(url).query["options"]
    assert isinstance(options, str)
    return options.rsplit("=", 1)[1]
