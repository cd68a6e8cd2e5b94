"""A sync killed half-way, against a real public host: the next sync neither loses nor
duplicates anything, and leaves nothing behind on either side.

As tests/test_end_to_end.py: gunicorn for the public site and its sync listener, the
`iblagh-officer` CLI for keys and sync (its own process, so SIGKILL is a real crash: no
``finally``, no rollback, a blob half-written).
"""

import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crypto.contents import ReportBody
from crypto.envelope import open_bytes
from journalist_app.accounts.login import unlock_for_command
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from tests.support.deployment import OFFICER, PASSPHRASE, init_unit, officer_cli, public_host
from tests.support.raw_http import FilePart, Multipart, open_form, repeated, send_multipart
from tests.support.servers import Server

RECEIPT = re.compile(r"<bdi>([0-9 ]{24})</bdi>")
REPORTS_PER_ROUND = 3
FILES_PER_REPORT = 2
# Per file, by attempt: bigger when a sync finished before it could be killed.
FILE_SIZES = (4 * 1024 * 1024, 8 * 1024 * 1024, 16 * 1024 * 1024, 24 * 1024 * 1024)


@dataclass
class Hosts:
    public: Server
    sync: Server
    source_dir: Path
    officer_dir: Path
    officer_env: dict[str, str]
    submitted: list[str] = field(default_factory=list)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Hosts]:
    unit = init_unit(tmp_path)
    with public_host(unit, tmp_path) as (public, sync):
        yield Hosts(public, sync, unit.source_dir, unit.officer_dir, unit.officer_env)


def submit_with_files(hosts: Hosts, index: int, size: int) -> None:
    session = open_form(hosts.public.port)
    fields = {
        "csrf_token": session.token,
        "category": "fraud",
        "urls": f"https://example.org/scam/{index}",
        "description": f"killed sync report {index}",
        "identity": "anonymous",
        "good_faith": "y",
    }
    files = [
        FilePart(f"evidence-{index}-{n}.bin", size, repeated(size)) for n in range(FILES_PER_REPORT)
    ]
    status, page = send_multipart(
        hosts.public.port, "/report?lang=en", session, Multipart(fields, files)
    )
    assert status == 200, page[-1500:]
    match = RECEIPT.search(page)
    assert match, "no receipt code"
    hosts.submitted.append(match.group(1))


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def finished_blobs(officer_dir: Path) -> list[Path]:
    return [p for p in files_under(officer_dir / "blobs") if not p.name.startswith(".")]


def start_sync(hosts: Hosts) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "journalist_app.cli.main", "sync", "--officer", OFFICER],
        env={**os.environ, **hosts.officer_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def writing(officer_dir: Path) -> bool:
    return any(p.name.startswith(".incoming-") for p in files_under(officer_dir / "blobs"))


def kill_mid_transfer(hosts: Hosts, process: subprocess.Popen[bytes]) -> bool:
    """SIGKILL the sync once a blob is on the officer host, preferably while it writes the
    next one (a temporary file left behind); False if the sync ended first."""
    already = len(finished_blobs(hosts.officer_dir))
    deadline, first_blob_at = time.monotonic() + 60, 0.0
    while time.monotonic() < deadline and process.poll() is None:
        if not first_blob_at and len(finished_blobs(hosts.officer_dir)) > already:
            first_blob_at = time.monotonic()
        if first_blob_at and (writing(hosts.officer_dir) or time.monotonic() > first_blob_at + 0.2):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.001)
    code = process.wait(timeout=30)
    return code == -signal.SIGKILL


def pending_on_public_host(source_dir: Path) -> int:
    with sqlite3.connect(source_dir / "source.db") as db:
        return int(db.execute("SELECT count(*) FROM submissions").fetchone()[0])


def test_a_sync_killed_mid_transfer_then_run_again_stores_everything_exactly_once(
    hosts: Hosts,
) -> None:
    killed = False
    for attempt, size in enumerate(FILE_SIZES):
        for index in range(REPORTS_PER_ROUND):
            submit_with_files(hosts, attempt * REPORTS_PER_ROUND + index, size)
        killed = kill_mid_transfer(hosts, start_sync(hosts)) and (
            pending_on_public_host(hosts.source_dir) > 0
        )
        if killed:
            break
    assert killed, "every sync finished before it could be killed"
    total = len(hosts.submitted)
    assert len(set(hosts.submitted)) == total

    again = officer_cli(hosts.officer_env, "sync", "--officer", OFFICER)
    assert again.returncode == 0, again.stdout + again.stderr
    summary = again.stdout.strip().splitlines()[-1]
    assert summary.startswith("synced: ") and "failed" not in summary, again.stdout

    # Nothing pending on the public host: its listing and its blob folder are empty.
    assert pending_on_public_host(hosts.source_dir) == 0
    assert files_under(hosts.source_dir / "blobs") == []
    listing = officer_cli(hosts.officer_env, "sync", "--officer", OFFICER)
    assert listing.returncode == 0, listing.stderr
    assert "synced: 0 new, 0 already stored" in listing.stdout, listing.stdout

    # Every submission stored once, its blobs exactly those the database lists.
    officer_db = sqlite3.connect(hosts.officer_dir / "officer.sqlite3")
    with officer_db:
        reports = officer_db.execute("SELECT id FROM reports").fetchall()
        blobs = officer_db.execute(
            "SELECT report_id, name, path, size, sha256 FROM report_blobs"
        ).fetchall()
    officer_db.close()
    assert len(reports) == total == len({row[0] for row in reports})
    assert len(blobs) == total * (1 + FILES_PER_REPORT)
    on_disk = files_under(hosts.officer_dir / "blobs")
    leftovers = [p for p in on_disk if p.name.startswith(".")]
    assert leftovers == [], "temporary files of the killed sync remain in the blob store"
    assert sorted(str(p.relative_to(hosts.officer_dir)) for p in on_disk) == sorted(
        row[2] for row in blobs
    )
    for _report, _name, path, size, sha256 in blobs:
        content = (hosts.officer_dir / path).read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (size, sha256), path

    # Every report opens with the officer's keys, attachments complete.
    config = OfficerConfig.from_env({**os.environ, **hosts.officer_env})
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            keyring = unlock_for_command(
                session, OFFICER, PASSPHRASE, params=config.wrap_params, command="test"
            )
            session.commit()
            identities = keyring.intake_identities()
    finally:
        engine.dispose()
    descriptions = set()
    by_report: dict[str, dict[str, str]] = {}
    for report_id, name, path, _size, _sha in blobs:
        by_report.setdefault(report_id, {})[name] = path
    for names in by_report.values():
        _metadata, body_bytes = open_bytes(
            (hosts.officer_dir / names["body"]).read_bytes(), identities
        )
        body = ReportBody.from_json(body_bytes)
        descriptions.add(body.description)
        assert len(body.attachments) == FILES_PER_REPORT
        for attachment in body.attachments:
            sealed = (hosts.officer_dir / names[attachment.blob]).read_bytes()
            opened, content = open_bytes(sealed, identities)
            assert opened.kind == "attachment"
            assert (len(content), hashlib.sha256(content).hexdigest()) == (
                attachment.size,
                attachment.sha256,
            )
    assert descriptions == {f"killed sync report {i}" for i in range(total)}
