"""Backups of both hosts restore into fresh hosts where every report still reads.

A public host takes reports (one with a file), an officer host syncs them, replies and
keeps an anchor; a last report waits on the public host. Both are backed up with their
CLIs, restored into fresh data dirs and databases, and then: the officer unlocks with
the same passphrase and opens every report and file, the audit chain verifies against
its kept anchor, the public host answers every receipt code (a reply included), and
the waiting report reaches the restored officer host. On a real SQLite file and on the
PostgreSQL of IBLAGH_TEST_POSTGRES_URL.
"""

import ast
import base64
import io
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

import backup as backup_package
from backup.folder import MANIFEST, Backup, BackupError, BackupWriter
from crypto.encoding import b64encode
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from journalist_app.keys.custody import unlock
from journalist_app.models import Report
from journalist_app.reports.reading import read_report
from journalist_app.reports.replies import queue_reply
from journalist_app.reports.sealed import Purpose, open_sealed
from journalist_app.sync.blob_store_s3 import open_blob_store
from tests.conftest import POSTGRES_ENV, ReporterActions
from tests.support.backup_hosts import (
    OFFICER,
    PASSPHRASE,
    Hosts,
    postgres_database,
    postgres_schema,
    schema_of,
    serving,
    with_search_path,
)
from tests.support.s3 import S3Endpoint

MARKER = "BACKUP-MARKER-لا-يقرأ-7f3a"
FILE_MARKER = b"FILE-MARKER-\x00\x01-secret-photo-bytes-" * 40
REPLY_MARKER = "REPLY-MARKER-we-are-on-it"
NAME_MARKER = "IDENTITY-MARKER-Youssef"
ADMIN_PASSPHRASE = "the admin who resets second factors"


@pytest.fixture(params=["sqlite", "postgres", "s3"])
def engine_kind(request: pytest.FixtureRequest) -> str:
    """The database, and where blobs rest: folders, or buckets (SQLite beside them)."""
    if request.param == "postgres" and not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to back up and restore")
    return str(request.param)


def use_buckets(hosts: Hosts, request: pytest.FixtureRequest) -> None:
    endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
    hosts.s3_endpoint = endpoint.url
    hosts.source_blob_url = f"s3://{endpoint.new_bucket()}/public"
    hosts.officer_blob_url = f"s3://{endpoint.new_bucket()}/officer"


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as exits:
        yield exits


def make_hosts(
    kind: str, root: Path, stack: ExitStack, request: pytest.FixtureRequest | None = None
) -> Hosts:
    hosts = Hosts(root / "source", root / "officer")
    stack.callback(hosts.close)
    if kind == "s3" and request is not None:
        use_buckets(hosts, request)
    if kind == "postgres":
        base = os.environ[POSTGRES_ENV]
        hosts.source_url = stack.enter_context(postgres_schema(base))
        hosts.officer_url = stack.enter_context(postgres_schema(base))
    return hosts


def fresh_hosts(
    kind: str, like: Hosts, root: Path, stack: ExitStack, request: pytest.FixtureRequest
) -> Hosts:
    """Empty data dirs; on PostgreSQL fresh databases using the originals' schema names,
    with S3 new buckets."""
    hosts = Hosts(root / "source", root / "officer")
    stack.callback(hosts.close)
    if kind == "s3":
        use_buckets(hosts, request)
    if kind == "postgres":
        base = os.environ[POSTGRES_ENV]
        for attribute in ("source_url", "officer_url"):
            database = stack.enter_context(postgres_database(base))
            setattr(
                hosts, attribute, with_search_path(database, schema_of(getattr(like, attribute)))
            )
    return hosts


def every_byte(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def forms_of(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    return [raw, text.encode("utf-16-le"), raw.hex().encode(), base64.b64encode(raw)]


def officer_reads_everything(hosts: Hosts) -> dict[str, bytes]:
    """Unlock with the passphrase and open every report body and file: text by report."""
    config = OfficerConfig.from_env(hosts.officer_env())
    engine = make_engine(config.database_url)
    store = open_blob_store(config)
    read: dict[str, bytes] = {}
    try:
        with make_session_factory(engine)() as session:
            keyring = unlock(session, OFFICER, PASSPHRASE, config.wrap_params)
            for report in session.scalars(select(Report).order_by(Report.id)):
                if report.kind == "report":
                    body = read_report(session, store, keyring, report.id).body
                    read[report.id] = body.description.encode()
                for blob in report.blobs:
                    if blob.name.startswith("attachment"):
                        sink = io.BytesIO()
                        open_sealed(
                            session,
                            store,
                            keyring,
                            blob,
                            Purpose.DOWNLOAD_ATTACHMENT,
                            sink,
                            max_bytes=10**8,
                        )
                        read[f"{report.id}/{blob.name}"] = sink.getvalue()
            session.commit()
    finally:
        engine.dispose()
    return read


def unwrapped_keys(hosts: Hosts) -> list[bytes]:
    """The private keys an unlock yields: none may rest in a backup."""
    config = OfficerConfig.from_env(hosts.officer_env())
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            keyring = unlock(session, OFFICER, PASSPHRASE, config.wrap_params)
            keys = [bytes(k) for k in keyring.intake_identities()]
            keys += [bytes(k) for k in keyring.identity_section_keys()]
            if keyring.sync_key is not None:
                keys.append(bytes(keyring.sync_key))
            session.rollback()
    finally:
        engine.dispose()
    return keys


def reply_to(hosts: Hosts, report_id: str) -> None:
    config = OfficerConfig.from_env(hosts.officer_env())
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            queue_reply(session, report_id, author=OFFICER, message=REPLY_MARKER)
    finally:
        engine.dispose()


def test_both_hosts_restore_into_fresh_hosts_and_every_report_reads(
    engine_kind: str,
    tmp_path: Path,
    stack: ExitStack,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    hosts = make_hosts(engine_kind, tmp_path / "before", stack, request)
    assert (
        hosts.officer("keys", "init", "--officer", OFFICER, "--public-out", str(hosts.source_dir))
        == 0
    )
    init_out = capsys.readouterr().out
    [recovery] = [
        line.split(": ", 1)[1] for line in init_out.splitlines() if "recovery secret: " in line
    ]

    reporter = ReporterActions(hosts.site().test_client())
    with_file = reporter.report(
        description=f"{MARKER} with a file",
        full_name=NAME_MARKER,
        files=[(FILE_MARKER, "photo-marker.jpg")],
    )
    plain = reporter.report(description=f"{MARKER} without a file")
    with serving(hosts.sync_app()) as sync_url:
        hosts.sync_url = sync_url
        assert hosts.officer("sync", "--officer", OFFICER) == 0
        first = officer_reads_everything(hosts)
        [replied] = [
            rid for rid, text in first.items() if text == f"{MARKER} without a file".encode()
        ]
        reply_to(hosts, replied)
        assert hosts.officer("sync", "--officer", OFFICER) == 0
    waiting = reporter.report(description=f"{MARKER} still on the public host")
    assert any((hosts.officer_dir / "audit-anchors").iterdir())
    keys = unwrapped_keys(hosts)
    capsys.readouterr()

    source_backup, officer_backup = tmp_path / "backup-source", tmp_path / "backup-officer"
    assert hosts.source("backup", "create", str(source_backup)) == 0
    assert hosts.officer("backup", "create", str(officer_backup)) == 0
    made = capsys.readouterr().out
    assert "not in the backup: totp-key" in made and "onion keys" in made
    hosts.close()

    everything = every_byte(source_backup) + every_byte(officer_backup)
    for secret in (MARKER, REPLY_MARKER, NAME_MARKER):
        for form in forms_of(secret):
            assert form not in everything, f"{secret} rests readable in the backup"
    assert FILE_MARKER[:40] not in everything
    for key in [*keys, base64.b64decode(recovery)]:
        assert key not in everything and b64encode(key).encode() not in everything
    totp_key = (hosts.officer_dir / "totp-key").read_bytes()
    assert totp_key not in everything

    fresh = fresh_hosts(engine_kind, hosts, tmp_path / "after", stack, request)
    assert fresh.source("backup", "restore", str(source_backup)) == 0
    assert fresh.officer("backup", "restore", str(officer_backup)) == 0
    restored_out = capsys.readouterr().out
    assert "reset-2fa" in restored_out

    assert fresh.officer("audit", "verify") == 0
    assert "anchored: entry" in capsys.readouterr().out
    assert officer_reads_everything(fresh) == first
    if engine_kind == "s3":
        assert not [p for p in fresh.officer_dir.rglob("blobs/*/*") if p.is_file()]
    # The second factors stayed out with totp-key: an admin gives new ones, as §6 says.
    admin = {"IBLAGH_NEW_OFFICER_PASSPHRASE": ADMIN_PASSPHRASE}
    assert (
        fresh.officer("admin", "create", "--username", "root", "--officer", OFFICER, env=admin) == 0
    )
    root = {"IBLAGH_OFFICER_PASSPHRASE": ADMIN_PASSPHRASE}
    assert (
        fresh.officer("officer", "reset-2fa", "--officer", "root", "--name", OFFICER, env=root) == 0
    )
    assert "two-factor secret: " in capsys.readouterr().out

    site = ReporterActions(fresh.site().test_client())
    for code in (with_file, plain, waiting):
        status, page = site.status(code)
        assert status == 200, page[:500]
    assert REPLY_MARKER in site.status(plain)[1]

    with serving(fresh.sync_app()) as sync_url:
        fresh.sync_url = sync_url
        assert fresh.officer("sync", "--officer", OFFICER) == 0
    after = officer_reads_everything(fresh)
    assert f"{MARKER} still on the public host".encode() in after.values()
    assert len(after) == len(first) + 1
    assert FILE_MARKER in after.values()


def test_a_flipped_byte_or_a_missing_file_is_refused_and_nothing_is_restored(
    tmp_path: Path, stack: ExitStack, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = make_hosts("sqlite", tmp_path / "before", stack)
    assert (
        hosts.officer("keys", "init", "--officer", OFFICER, "--public-out", str(hosts.source_dir))
        == 0
    )
    reporter = ReporterActions(hosts.site().test_client())
    reporter.report(description=MARKER, files=[(FILE_MARKER, "photo.jpg")])
    source_backup, officer_backup = tmp_path / "backup-source", tmp_path / "backup-officer"
    assert hosts.source("backup", "create", str(source_backup)) == 0
    assert hosts.officer("backup", "create", str(officer_backup)) == 0
    hosts.close()
    capsys.readouterr()

    blob = max((source_backup / "blobs").iterdir(), key=lambda path: path.stat().st_size)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0x01
    blob.write_bytes(bytes(data))
    fresh = Hosts(tmp_path / "after" / "source", tmp_path / "after" / "officer")
    assert fresh.source("backup", "restore", str(source_backup)) == 1
    assert "does not match the manifest" in capsys.readouterr().err
    assert not (fresh.source_dir / "source.db").exists()
    assert not (fresh.source_dir / "recipient-set.json").exists()

    database = officer_backup / "database.sqlite3"
    database.rename(tmp_path / "moved-away")
    assert fresh.officer("backup", "restore", str(officer_backup)) == 1
    assert "missing, first database.sqlite3" in capsys.readouterr().err
    assert not (fresh.officer_dir / "officer.sqlite3").exists()

    (tmp_path / "moved-away").rename(database)
    (officer_backup / MANIFEST).write_text("{ damaged")
    assert fresh.officer("backup", "restore", str(officer_backup)) == 1
    assert "is damaged" in capsys.readouterr().err


def test_restore_refuses_a_host_with_data_unless_forced(
    tmp_path: Path, stack: ExitStack, capsys: pytest.CaptureFixture[str]
) -> None:
    hosts = make_hosts("sqlite", tmp_path / "before", stack)
    assert (
        hosts.officer("keys", "init", "--officer", OFFICER, "--public-out", str(hosts.source_dir))
        == 0
    )
    code = ReporterActions(hosts.site().test_client()).report(description=MARKER)
    backup = tmp_path / "backup-source"
    assert hosts.source("backup", "create", str(backup)) == 0
    assert hosts.source("backup", "create", str(backup)) == 1
    assert "not an empty folder" in capsys.readouterr().err
    ReporterActions(hosts.site().test_client()).report(description="after the backup")
    hosts.close()

    assert hosts.source("backup", "restore", str(backup)) == 1
    assert "the target is not empty (the database holds rows" in capsys.readouterr().err
    assert hosts.source("backup", "restore", "--force", str(backup)) == 0
    assert "removed 1 blob(s) no restored row names" in capsys.readouterr().out
    site = ReporterActions(hosts.site().test_client())
    assert site.status(code)[0] == 200
    [remaining] = [p for p in (hosts.source_dir / "blobs").rglob("*") if p.is_file()]
    assert remaining.parent.parent == hosts.source_dir / "blobs"


def test_a_postgresql_backup_without_pg_dump_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to point the host at")
    with postgres_schema(os.environ[POSTGRES_ENV]) as url:
        hosts = Hosts(tmp_path / "source", tmp_path / "officer", source_url=url)
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        assert hosts.source("backup", "create", str(tmp_path / "backup")) == 1
    assert "pg_dump is not on PATH" in capsys.readouterr().err
    assert not any((tmp_path / "backup").iterdir())


def test_a_manifest_naming_a_file_outside_its_folder_is_refused(tmp_path: Path) -> None:
    writer = BackupWriter(tmp_path / "backup", "officer")
    writer.add_bytes("audit-anchors/1-x.json", b"{}")
    writer.finish({})
    manifest = (tmp_path / "backup" / MANIFEST).read_text()
    (tmp_path / "backup" / MANIFEST).write_text(manifest.replace("audit-anchors/", "../"))
    with pytest.raises(BackupError, match="not a name a backup may hold"):
        Backup.open(tmp_path / "backup", "officer")


def test_a_backup_of_the_other_host_is_refused(tmp_path: Path) -> None:
    BackupWriter(tmp_path / "backup", "public").finish({})
    with pytest.raises(BackupError, match="backup of the 'public' host, not of the officer"):
        Backup.open(tmp_path / "backup", "officer")
    assert Backup.open(tmp_path / "backup", "public").entries == {}


def test_the_shared_backup_package_imports_neither_app() -> None:
    """Like crypto/: both hosts use it, so it must not reach into either of them."""
    imported = set()
    for path in Path(backup_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
    assert not imported & {"source_app", "journalist_app", "tor"}


def test_a_backup_taken_while_reports_arrive_restores_every_row_with_its_blob(
    engine_kind: str,
    tmp_path: Path,
    stack: ExitStack,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    """The dump first, then the blobs: a report committed meanwhile is in neither or both."""
    hosts = make_hosts(engine_kind, tmp_path / "before", stack, request)
    assert (
        hosts.officer("keys", "init", "--officer", OFFICER, "--public-out", str(hosts.source_dir))
        == 0
    )
    reporter = ReporterActions(hosts.site().test_client())
    reporter.report(description=MARKER, files=[(FILE_MARKER, "first.jpg")])
    stop = threading.Event()
    codes: list[str] = []

    def keep_reporting() -> None:
        while not stop.is_set():
            codes.append(reporter.report(description=MARKER, files=[(FILE_MARKER, "more.jpg")]))

    writer = threading.Thread(target=keep_reporting)
    writer.start()
    try:
        while len(codes) < 2:
            time.sleep(0.05)
        backup = tmp_path / "backup"
        assert hosts.source("backup", "create", str(backup)) == 0
    finally:
        stop.set()
        writer.join()
    hosts.close()
    capsys.readouterr()

    fresh = fresh_hosts(engine_kind, hosts, tmp_path / "after", stack, request)
    assert fresh.source("backup", "restore", str(backup)) == 0
    out = capsys.readouterr().out
    assert "warning" not in out
    restored = int(out.split(": the database and ")[1].split(" ")[0])
    # Each report holds a body and a file: whole reports only.
    assert restored >= 4 and restored % 2 == 0
