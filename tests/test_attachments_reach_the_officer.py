"""A file sent by a reporter arrives on the officer host through the real sync, and opens."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.contents import ReportBody
from crypto.envelope import open_bytes
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.models import Report
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import pull
from source_app import create_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.servers import Server, gunicorn

VIDEO = b"\x00\x00\x00\x20ftypisom" + bytes(range(256)) * 2000
PHOTO = b"\xff\xd8\xff\xe0" + b"jpeg" * 50_000


@pytest.fixture
def sync_server(tmp_path: Path, source_data_dir: Path) -> Iterator[Server]:
    with gunicorn(
        "source_app:create_sync_app()",
        source_environ(source_data_dir),
        tmp_path / "sync.log",
        probe_path="/sync/v1/submissions",
    ) as server:
        yield server


@pytest.fixture
def officer_db(tmp_path: Path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'officer.db'}")
    create_schema(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def test_attachments_of_a_report_and_a_follow_up_arrive_and_decrypt_on_the_officer_host(
    tmp_path: Path,
    source_data_dir: Path,
    sync_server: Server,
    officer_db: Session,
    unit_keys: UnitKeys,
) -> None:
    reporter = ReporterActions(
        create_app(SourceConfig.from_env(source_environ(source_data_dir))).test_client()
    )
    code = reporter.report(files=[(VIDEO, "فيديو.mp4"), (PHOTO, "IMG_0001.JPG")])
    assert reporter.follow_up(code, files=[(b"%PDF-1.4 more", "more.pdf")])[0] == 200

    officer_dir = tmp_path / "officer"
    result = pull(
        officer_db, SyncClient(sync_server.url, unit_keys.sync), LocalBlobStore(officer_dir)
    )

    assert (result.new, result.acknowledged, result.failed) == (2, 2, 0)
    leftovers = [p for p in (source_data_dir / "blobs").rglob("*") if p.is_file()]
    assert leftovers == [], "the public host forgets what the officer host stored"
    reports = {r.kind: r for r in officer_db.scalars(select(Report))}
    assert reports["followup"].reporter_id == reports["report"].reporter_id
    store = LocalBlobStore(officer_dir)

    def opened(report: Report, name: str) -> tuple[str, str, bytes]:
        blob = report.blob(name)
        assert blob is not None, name
        with store.open(blob.path) as handle:
            metadata, content = open_bytes(handle.read(), [unit_keys.intake])
        return metadata.name, metadata.content_type, content

    assert opened(reports["report"], "attachment-1") == ("فيديو.mp4", "video/mp4", VIDEO)
    assert opened(reports["report"], "attachment-2") == ("IMG_0001.JPG", "image/jpeg", PHOTO)
    body = ReportBody.from_json(opened(reports["report"], "body")[2])
    assert [(a.blob, a.size, a.sha256) for a in body.attachments] == [
        ("attachment-1", len(VIDEO), hashlib.sha256(VIDEO).hexdigest()),
        ("attachment-2", len(PHOTO), hashlib.sha256(PHOTO).hexdigest()),
    ]
    assert opened(reports["followup"], "attachment-1")[1:] == ("application/pdf", b"%PDF-1.4 more")
