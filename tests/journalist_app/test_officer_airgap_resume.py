"""Killed half-way, run again: an import, an upload or an online sync loses and
duplicates nothing (issue 4: "a sync killed half-way loses and duplicates nothing").

Both the online sync and the batch import store through one function,
``journalist_app.sync.pull.store_submission``; these tests stop it at awkward moments.
"""

import dataclasses
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.batch import BatchHeader, BatchWriter
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.sync_api import ListedBlob, ListedSubmission, listing_item
from journalist_app.airgap import inbound
from journalist_app.airgap.inbound import import_inbound
from journalist_app.keys.custody import unlock
from journalist_app.models import OutboxItem, Report, ReportBlob
from journalist_app.reports.replies import queue_reply
from journalist_app.sync.client import SyncClient
from journalist_app.sync.pull import run_sync
from tests.support.airgap import OFFICER, AirGap, Host, air_gap

BODY = {"v": 1, "category": "terrorism", "urls": ["https://example.org/p/1"], "description": "x"}


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing handles it as an error."""


@pytest.fixture
def gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    with air_gap(tmp_path, capsys) as deployment:
        yield deployment


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def leftovers(data_dir: Path) -> list[Path]:
    """Files that are neither a stored blob nor the database: half-written or staged."""
    staged = list((data_dir / "staging").rglob("*")) if (data_dir / "staging").exists() else []
    blobs = list((data_dir / "blobs").rglob(".*")) if (data_dir / "blobs").exists() else []
    return [path for path in staged + blobs if path.is_file()]


def assert_every_blob_intact(host: Host, session: Session) -> None:
    for blob in session.scalars(select(ReportBlob)):
        stored = (host.data_dir / blob.path).read_bytes()
        assert (len(stored), hashlib.sha256(stored).hexdigest()) == (blob.size, blob.sha256)


def crafted_batch(
    host: Host, path: Path, submissions: int, blob_size: int, sealed: bool = True
) -> list[str]:
    """An inbound batch as the connected machine would write it, made with the sync key.

    The officer host stores ciphertext without opening it, but checks that each blob is an
    envelope sealed to its own keys: random content sealed to the intake key will do.
    """
    with host.session() as session:
        keyring = host.keyring(session)
        sync_key = keyring.sync_key
        assert sync_key is not None
        intake_keys = [key.public_key for key in keyring.intake_keys.values()]
    header = BatchHeader.new("inbound", 1, sync_key)
    ids = []
    with path.open("wb") as out:
        writer = BatchWriter(out, sync_key, header)
        for _ in range(submissions):
            blob = secrets.token_bytes(blob_size)
            if sealed:
                blob = seal_bytes(blob, intake_keys, EnvelopeMetadata(kind="report"))
            listed = ListedSubmission(
                id=secrets.token_hex(16),
                kind="report",
                reporter_id=secrets.token_hex(16),
                reporter_public_key=secrets.token_bytes(32),
                received_hour=datetime(2026, 11, 28, 18),
                blobs=(ListedBlob("body", len(blob), hashlib.sha256(blob).hexdigest()),),
            )
            writer.add("submission", {"submission": listing_item(listed)})
            writer.add(
                "blob",
                {"submission_id": listed.id, "name": "body", "size": len(blob)}
                | {"sha256": hashlib.sha256(blob).hexdigest()},
                blob,
            )
            ids.append(listed.id)
        writer.close()
    return ids


def test_an_import_stopped_in_the_middle_of_a_blob_resumes_without_loss_or_duplicates(
    gap: AirGap, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = gap.work / "in.batch"
    ids = crafted_batch(gap.offline, batch, submissions=3, blob_size=150_000)
    real_store = inbound.store_submission
    calls = []

    def dying_store(
        session: Session, store: Any, submission: Any, source: Any, limits: Any = None, **kw: Any
    ) -> Any:
        calls.append(submission.id)
        if len(calls) < 2:
            return real_store(session, store, submission, source, limits, **kw)

        def half_then_die(blob: ListedBlob, dst: BinaryIO) -> None:
            dst.write(b"\0" * (blob.size // 2))
            raise Killed

        return real_store(session, store, submission, half_then_die, limits, **kw)

    monkeypatch.setattr(inbound, "store_submission", dying_store)
    with gap.offline.session() as session:
        keyring = unlock(session, OFFICER, gap.offline.passphrase, gap.offline.config.wrap_params)
        with pytest.raises(Killed):
            import_inbound(session, gap.offline.config, keyring, batch)
        assert count(session, Report) == 1
        assert leftovers(gap.offline.data_dir) == []
        assert not (gap.offline.data_dir / "blobs" / ids[1] / "body").exists()
    monkeypatch.setattr(inbound, "store_submission", real_store)

    again = gap.offline.run(capsys, "import", "--officer", OFFICER, str(batch))

    assert again.code == 0, again.err
    assert "2 new, 1 already stored, 3 acknowledgements queued" in again.out
    with gap.offline.session() as session:
        assert count(session, Report) == 3 and count(session, ReportBlob) == 3
        assert count(session, OutboxItem) == 3
        assert_every_blob_intact(gap.offline, session)


def test_an_import_killed_by_a_signal_at_any_moment_resumes_without_loss_or_duplicates(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    batch = gap.work / "big.batch"
    crafted_batch(gap.offline, batch, submissions=60, blob_size=200_000)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "journalist_app.cli.main",
            "import",
            "--officer",
            OFFICER,
            str(batch),
        ],
        env={**os.environ, **gap.offline.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        with gap.offline.session() as session:
            # Kill it once a few submissions are in, wherever it then is.
            while process.poll() is None and time.monotonic() < deadline:
                session.rollback()
                if count(session, Report) >= 5:
                    break
                time.sleep(0.005)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL, "the import ended before it was killed"
    with gap.offline.session() as session:
        assert 5 <= count(session, Report) < 60

    again = gap.offline.run(capsys, "import", "--officer", OFFICER, str(batch))

    assert again.code == 0, again.err
    with gap.offline.session() as session:
        assert count(session, Report) == 60 and count(session, ReportBlob) == 60
        assert count(session, OutboxItem) == 60
        assert_every_blob_intact(gap.offline, session)
    assert [p for p in leftovers(gap.offline.data_dir) if "staging" in p.parts] == []
    new, _, rest = again.out.partition(" new, ")
    assert int(new.rsplit(" ", 1)[-1]) + int(rest.split(" ", 1)[0]) == 60


def test_an_online_sync_stopped_half_way_resumes_without_loss_or_duplicates(
    gap: AirGap, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(3):
        gap.reporter.report(description=f"report {index}")
    # The same officer host, online this time: the sync shares the ingest step.
    config = dataclasses.replace(gap.offline.config, sync_url=gap.sync_url)
    real_fetch = SyncClient.fetch_blob
    fetched: list[str] = []

    def dying_fetch(self: SyncClient, submission_id: str, blob: ListedBlob, dst: BinaryIO) -> None:
        fetched.append(submission_id)
        if len(set(fetched)) == 2:
            dst.write(b"partial")
            raise Killed
        real_fetch(self, submission_id, blob, dst)

    with gap.offline.session() as session:
        keyring = gap.offline.keyring(session)
        with monkeypatch.context() as patched:
            patched.setattr(SyncClient, "fetch_blob", dying_fetch)
            with pytest.raises(Killed):
                run_sync(session, config, keyring)
        assert count(session, Report) == 1
        assert leftovers(gap.offline.data_dir) == []

        result = run_sync(session, config, keyring)

        assert (result.new, result.already_stored, result.acknowledged) == (2, 1, 3)
        assert count(session, Report) == 3 and count(session, ReportBlob) == 3
        assert_every_blob_intact(gap.offline, session)
    with gap.connected.session() as session:
        sync_key = gap.connected.keyring(session).sync_key
    assert sync_key is not None
    assert SyncClient(gap.sync_url, sync_key).list_submissions() == []


def test_an_upload_stopped_before_the_acknowledgements_is_run_again_safely(
    gap: AirGap, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code = gap.reporter.report(description="a report that gets a reply")
    inbound = gap.work / "in.batch"
    assert (
        gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(inbound)).code == 0
    )
    assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound)).code == 0
    with gap.offline.session() as session:
        report_id = session.scalars(select(Report.id)).one()
        queue_reply(session, report_id, status="received", message="Reçu.")
    outbound = gap.work / "out.batch"
    gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(outbound))

    def no_ack(self: SyncClient, ids: Any) -> Any:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(SyncClient, "ack", no_ack)
        with pytest.raises(Killed):
            gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound))

    again = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound))

    assert again.code == 0, again.err
    assert "1 replies delivered, 1 submissions deleted" in again.out
    _, page = gap.reporter.status(code)
    assert page.count("Reçu.") == 1


def test_a_lost_outbound_batch_is_written_again_with_all(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    gap.reporter.report(description="one")
    inbound = gap.work / "in.batch"
    gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(inbound))
    gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound))
    lost, empty, again = (gap.work / f"out-{n}.batch" for n in (1, 2, 3))

    first = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(lost))
    second = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(empty))
    third = gap.offline.run(
        capsys, "export-outbox", "--officer", OFFICER, "--out", str(again), "--all"
    )

    assert "0 replies, 1 acknowledgements" in first.out
    assert "0 replies, 0 acknowledgements" in second.out
    assert "0 replies, 1 acknowledgements" in third.out
    uploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(again))
    assert uploaded.code == 0, uploaded.err
    assert "1 submissions deleted" in uploaded.out
    # The lost batch, found later, is older than the one uploaded: refused.
    late = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(lost))
    assert late.code == 1 and "ReplayedBatch" in late.err


def test_an_import_applies_the_sync_limits_and_refuses_blobs_that_are_not_envelopes(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    """A batch carries the public host's word by hand: it is checked like the online sync."""
    batch = gap.work / "garbage.batch"
    crafted_batch(gap.offline, batch, submissions=2, blob_size=2_000, sealed=False)
    gap.offline.run(capsys, "import", "--officer", OFFICER, str(batch))
    with gap.offline.session() as session:
        assert count(session, Report) == 0
    assert leftovers(gap.offline.data_dir) == []
