"""An air-gapped unit for tests: a real public host, a connected machine, an offline host.

The public host is source_app itself: its pages through Flask's test client (the
reporter), its sync listener served by Werkzeug on 127.0.0.1 (the connected machine's
only peer). The two officer data dirs are set up as docs/batch.md tells an operator:
``keys init`` on the offline host, ``connected-host export`` there, ``connected-host
setup`` on the connected machine. Commands run in-process through
``journalist_app.cli.main.main``; the offline host's sync URL points nowhere.
"""

import io
import os
import socket
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest import mock
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from nacl.signing import SigningKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crypto.batch import MAGIC, BatchHeader, BatchWriter, Direction, read_batch
from journalist_app.cli.main import main
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.custody import unlock
from journalist_app.keys.keyring import UnlockedKeyring
from tests.conftest import ReporterActions, source_environ

OFFICER = "nadia"
PASSPHRASE = "the offline officer's long passphrase"
COURIER_PASSPHRASE = "the connected machine's own passphrase"


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


@dataclass
class Host:
    """One officer data dir and the environment its commands run with."""

    env: dict[str, str]
    passphrase: str

    @property
    def config(self) -> OfficerConfig:
        return OfficerConfig.from_env(self.env)

    @property
    def data_dir(self) -> Path:
        return self.config.data_dir

    def run(self, capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
        """``iblagh-officer ARGS`` with this host's environment only."""
        capsys.readouterr()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("IBLAGH_")}
        with mock.patch.dict(os.environ, {**clean, **self.env}, clear=True):
            code = main(list(args))
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    @contextmanager
    def session(self) -> Iterator[Session]:
        engine: Engine = make_engine(self.config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        try:
            yield session
        finally:
            session.close()
            engine.dispose()

    def keyring(self, session: Session) -> UnlockedKeyring:
        return unlock(session, OFFICER, self.passphrase, self.config.wrap_params)


@dataclass
class AirGap:
    offline: Host
    connected: Host
    source_dir: Path
    sync_url: str
    reporter: ReporterActions
    work: Path


class _QuietHandler(WSGIRequestHandler):
    # The public host logs no client address; neither does its test server.
    def log_message(self, format: str, *args: object) -> None:
        return None


def _unused_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def air_gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    from source_app import create_app, create_sync_app
    from source_app.config import SourceConfig

    source_dir = tmp_path / "public"
    offline = Host(
        env={
            "IBLAGH_DATA_DIR": str(tmp_path / "offline"),
            "IBLAGH_KDF": "fast",
            "IBLAGH_TESTING": "1",
            "IBLAGH_OFFICER_PASSPHRASE": PASSPHRASE,
            # The offline host reaches nothing: a sync attempt from it would fail.
            "IBLAGH_SYNC_URL": _unused_url(),
        },
        passphrase=PASSPHRASE,
    )
    init = offline.run(
        capsys, "keys", "init", "--officer", OFFICER, "--public-out", str(source_dir)
    )
    assert init.code == 0, init.err
    kit = tmp_path / "carry" / "connected-host.kit"
    offline.env["IBLAGH_NEW_OFFICER_PASSPHRASE"] = COURIER_PASSPHRASE
    made = offline.run(capsys, "connected-host", "export", "--officer", OFFICER, "--out", str(kit))
    del offline.env["IBLAGH_NEW_OFFICER_PASSPHRASE"]
    assert made.code == 0, made.err

    source_config = SourceConfig.from_env(source_environ(source_dir))
    sync_server: WSGIServer = make_server(
        "127.0.0.1", 0, create_sync_app(source_config), handler_class=_QuietHandler
    )
    sync_url = f"http://127.0.0.1:{sync_server.server_port}"
    thread = threading.Thread(target=sync_server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        connected = Host(
            env={
                "IBLAGH_DATA_DIR": str(tmp_path / "connected"),
                "IBLAGH_KDF": "fast",
                "IBLAGH_TESTING": "1",
                "IBLAGH_OFFICER_PASSPHRASE": COURIER_PASSPHRASE,
                "IBLAGH_SYNC_URL": sync_url,
            },
            passphrase=COURIER_PASSPHRASE,
        )
        setup = connected.run(
            capsys,
            "connected-host",
            "setup",
            str(kit),
            "--unit-verify-key",
            str(source_dir / "unit-verify-key"),
        )
        assert setup.code == 0, setup.err
        reporter = ReporterActions(create_app(source_config).test_client())
        yield AirGap(offline, connected, source_dir, sync_url, reporter, tmp_path)
    finally:
        sync_server.shutdown()
        sync_server.server_close()
        thread.join()


# --- batch surgery for the damage tests ----------------------------------------------------


def entry_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each entry of a batch, mark to end of content."""
    length = struct.unpack(">I", data[len(MAGIC) : len(MAGIC) + 4])[0]
    offset = len(MAGIC) + 4 + length
    spans = []
    while data[offset : offset + 1] == b"E":
        start = offset
        offset += 5 + struct.unpack(">I", data[offset + 1 : offset + 5])[0]
        offset += 8 + struct.unpack(">Q", data[offset : offset + 8])[0]
        spans.append((start, offset))
    return spans


def resign(data: bytes, trusted: SigningKey, forger: SigningKey, direction: str) -> bytes:
    """The same entries under a newer sequence number, signed by ``forger``."""
    way: Direction = "inbound" if direction == "inbound" else "outbound"
    with (
        tempfile.TemporaryDirectory() as stage,
        read_batch(io.BytesIO(data), [trusted.verify_key], Path(stage), direction=way) as batch,
    ):
        header = BatchHeader.new(way, batch.header.sequence + 1, forger)
        out = io.BytesIO()
        writer = BatchWriter(out, forger, header)
        for entry in batch.entries:
            fields = {k: v for k, v in entry.descriptor.items() if k not in ("index", "type")}
            with batch.open_content(entry) as content:
                writer.add(entry.type, fields, content, entry.size)
        writer.close()
        return out.getvalue()
