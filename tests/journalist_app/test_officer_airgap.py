"""The air gap (docs/batch.md) against a real public host: reports out, replies back.

The public host is source_app; the connected machine and the offline officer host are
two data dirs set up as an operator would (tests/support/airgap.py).
"""

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from sqlalchemy import func, select

from journalist_app.models import BatchRecord, OutboxItem, Reply, Report
from journalist_app.reports.reading import read_report
from journalist_app.reports.replies import queue_reply
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SyncClient
from tests.support.airgap import OFFICER, AirGap, air_gap, entry_spans, resign

DESCRIPTION = "Chaîne qui appelle au meurtre — قناة تدعو إلى القتل"


@pytest.fixture
def gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    with air_gap(tmp_path, capsys) as deployment:
        yield deployment


def pending_on_public_host(gap: AirGap) -> list[str]:
    with gap.offline.session() as session:
        sync_key = gap.offline.keyring(session).sync_key
    assert sync_key is not None
    return [s.id for s in SyncClient(gap.sync_url, sync_key).list_submissions(limit=500)]


def report_count(gap: AirGap) -> int:
    with gap.offline.session() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def stored_files(data_dir: Path, folder: str) -> list[Path]:
    root = data_dir / folder
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def export(gap: AirGap, capsys: pytest.CaptureFixture[str], name: str) -> Path:
    path = gap.work / "carry" / name
    result = gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(path))
    assert result.code == 0, result.err
    return path


def test_reports_cross_the_air_gap_and_replies_come_back(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    code = gap.reporter.report(description=DESCRIPTION, full_name="Youssef El Amrani")
    gap.reporter.report(description="a second report")

    inbound = export(gap, capsys, "in-1.batch")
    # Exporting does not acknowledge: the public host keeps the ciphertext for now.
    assert len(pending_on_public_host(gap)) == 2

    imported = gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound))
    assert imported.code == 0, imported.err
    assert "2 new, 0 already stored, 2 acknowledgements queued" in imported.out
    assert imported.err == "", "no progress bar outside a terminal"
    with gap.offline.session() as session:
        keyring = gap.offline.keyring(session)
        store = LocalBlobStore(gap.offline.data_dir)
        readings = [
            read_report(session, store, keyring, r.id) for r in session.scalars(select(Report))
        ]
        assert DESCRIPTION in {reading.body.description for reading in readings}
        identified = next(r for r in readings if r.body.description == DESCRIPTION)
        assert identified.summary.identity_present
        queue_reply(session, identified.summary.id, status="under_review", message="Merci, vu.")

    outbound = gap.work / "carry" / "out-1.batch"
    written = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(outbound))
    assert written.code == 0, written.err
    assert "1 replies, 2 acknowledgements" in written.out

    uploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound))
    assert uploaded.code == 0, uploaded.err
    assert "1 replies delivered, 2 submissions deleted from the public host" in uploaded.out
    assert pending_on_public_host(gap) == []
    status, page = gap.reporter.status(code)
    assert status == 200
    assert "Merci, vu." in page

    # The receipt travels back in the next inbound batch and closes the loop.
    with gap.offline.session() as session:
        assert session.scalars(select(Reply)).one().pushed_at is None
    receipt_batch = export(gap, capsys, "in-2.batch")
    closed = gap.offline.run(capsys, "import", "--officer", OFFICER, str(receipt_batch))
    assert closed.code == 0, closed.err
    assert "1 receipts: 1 replies delivered, 2 acknowledgements applied" in closed.out
    with gap.offline.session() as session:
        assert session.scalars(select(Reply)).one().pushed_at is not None
        assert all(item.confirmed_at for item in session.scalars(select(OutboxItem)))
    nothing = gap.offline.run(
        capsys, "export-outbox", "--officer", OFFICER, "--out", str(gap.work / "out-2.batch")
    )
    assert "0 replies, 0 acknowledgements" in nothing.out


def test_the_connected_machine_holds_the_sync_key_and_nothing_that_reads_reports(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    with gap.connected.session() as session:
        keyring = gap.connected.keyring(session)
    assert keyring.sync_key is not None
    assert keyring.intake_keys == {} and keyring.signing_key is None
    refused = gap.connected.run(
        capsys, "export-outbox", "--officer", OFFICER, "--out", str(gap.work / "x.batch")
    )
    assert refused.code == 1 and "holds no unit signing key" in refused.err
    again = gap.connected.run(
        capsys, "connected-host", "setup", str(gap.work / "carry" / "connected-host.kit")
    )
    assert again.code == 1 and "already holds unit keys" in again.err


def test_a_kit_for_another_unit_is_refused_when_the_verify_key_is_pinned(
    gap: AirGap, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "other-unit-verify-key"
    other.write_text("A" * 43 + "=\n")
    fresh = type(gap.connected)(
        env={**gap.connected.env, "IBLAGH_DATA_DIR": str(tmp_path / "fresh")},
        passphrase=gap.connected.passphrase,
    )
    result = fresh.run(
        capsys,
        "connected-host",
        "setup",
        str(gap.work / "carry" / "connected-host.kit"),
        "--unit-verify-key",
        str(other),
    )
    assert result.code == 1
    assert "not the unit verify key given" in result.err


# --- refusals: nothing imported, and the reason said ----------------------------------------


def damaged(kind: str, data: bytes, gap: AirGap) -> bytes:
    if kind == "truncated":
        return data[:-100]
    if kind == "flipped":
        (start, end) = entry_spans(data)[1]
        changed = bytearray(data)
        changed[(start + end) // 2] ^= 0x20
        return bytes(changed)
    if kind == "reordered":
        (a0, a1), (b0, b1) = entry_spans(data)[:2]
        return data[:a0] + data[b0:b1] + data[a0:a1] + data[b1:]
    assert kind == "forged"
    with gap.offline.session() as session:
        sync_key = gap.offline.keyring(session).sync_key
    assert sync_key is not None
    return resign(data, sync_key, SigningKey.generate(), "inbound")


# Paths created or opened for writing while the flag is up (a Python audit hook, which
# sees every open and mkdir of this process; hooks cannot be removed, hence the flag).
_WRITES: list[str] = []
_WATCHING: list[bool] = []
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND


def _record_writes(event: str, args: tuple[object, ...]) -> None:
    if not _WATCHING:
        return
    if event == "os.mkdir":
        _WRITES.append(str(args[0]))
    elif event == "open" and len(args) == 3:
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS
        )
        if writing:
            _WRITES.append(str(path))


sys.addaudithook(_record_writes)


def test_nothing_of_a_batch_reaches_the_disk_before_its_signature_is_checked(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    gap.reporter.report(description=DESCRIPTION)
    good = export(gap, capsys, "in.batch")
    bad = gap.work / "flipped-late.batch"
    data = bytearray(good.read_bytes())
    data[-80] ^= 1  # in the trailer's digest: found only once the whole file was read
    bad.write_bytes(bytes(data))
    staging = str(gap.offline.data_dir / "staging")
    _WRITES.clear()
    _WATCHING.append(True)
    try:
        result = gap.offline.run(capsys, "import", "--officer", OFFICER, str(bad))
    finally:
        _WATCHING.clear()
    assert result.code == 1 and "batch refused" in result.err
    assert [path for path in _WRITES if path.startswith(staging)] == []
    # The hook does see staging when a batch verifies (the check above can fail).
    _WATCHING.append(True)
    try:
        assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(good)).code == 0
    finally:
        _WATCHING.clear()
    assert [path for path in _WRITES if path.startswith(staging)] != []


@pytest.mark.parametrize(
    ("kind", "error", "reason"),
    [
        ("truncated", "TruncatedBatch", "truncated"),
        ("flipped", "ForgedBatch", "altered or damaged after it was signed"),
        ("reordered", "ReorderedBatch", "entries were reordered"),
        ("forged", "ForgedBatch", "which is not trusted here"),
    ],
)
def test_a_damaged_or_forged_batch_imports_nothing_and_says_why(
    gap: AirGap, capsys: pytest.CaptureFixture[str], kind: str, error: str, reason: str
) -> None:
    gap.reporter.report(description=DESCRIPTION)
    good = export(gap, capsys, "in.batch")
    bad = gap.work / f"{kind}.batch"
    bad.write_bytes(damaged(kind, good.read_bytes(), gap))

    result = gap.offline.run(capsys, "import", "--officer", OFFICER, str(bad))

    assert result.code == 1
    assert "Traceback" not in result.err
    assert f"batch refused ({error})" in result.err and reason in result.err
    assert "Nothing in it was used" in result.err
    assert report_count(gap) == 0
    assert stored_files(gap.offline.data_dir, "blobs") == []
    assert stored_files(gap.offline.data_dir, "staging") == []
    # The genuine batch still imports afterwards.
    assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(good)).code == 0
    assert report_count(gap) == 1


def test_a_replayed_or_older_batch_is_refused(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    gap.reporter.report(description=DESCRIPTION)
    first, second = export(gap, capsys, "in-1.batch"), export(gap, capsys, "in-2.batch")
    assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(second)).code == 0

    replayed = gap.offline.run(capsys, "import", "--officer", OFFICER, str(second))
    older = gap.offline.run(capsys, "import", "--officer", OFFICER, str(first))

    assert replayed.code == older.code == 1
    assert "ReplayedBatch" in replayed.err and "already imported" in replayed.err
    assert "ReplayedBatch" in older.err and "not newer than number 2" in older.err
    with gap.offline.session() as session:
        assert session.scalar(select(func.count()).select_from(BatchRecord)) == 1


def test_an_outbound_batch_is_not_imported_and_an_inbound_one_is_not_uploaded(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    gap.reporter.report(description=DESCRIPTION)
    inbound = export(gap, capsys, "in.batch")
    outbound = gap.work / "out.batch"
    assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound)).code == 0
    assert (
        gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(outbound)).code
        == 0
    )

    misimported = gap.offline.run(capsys, "import", "--officer", OFFICER, str(outbound))
    misuploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(inbound))

    assert misimported.code == misuploaded.code == 1
    assert "MisdirectedBatch" in misimported.err and "outbound batch" in misimported.err
    assert "MisdirectedBatch" in misuploaded.err
    assert len(pending_on_public_host(gap)) == 1


@pytest.mark.parametrize("kind", ["forged", "flipped", "replayed"])
def test_a_bad_outbound_batch_changes_nothing_on_the_public_host(
    gap: AirGap, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    gap.reporter.report(description=DESCRIPTION)
    inbound = export(gap, capsys, "in.batch")
    assert gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound)).code == 0
    outbound = gap.work / "out.batch"
    gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(outbound))
    data = outbound.read_bytes()
    if kind == "replayed":
        assert gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound)).code == 0
        gap.reporter.report(description="another one, still pending")
    elif kind == "forged":
        with gap.offline.session() as session:
            signing_key = gap.offline.keyring(session).signing_key
        assert signing_key is not None
        outbound.write_bytes(resign(data, signing_key, SigningKey.generate(), "outbound"))
    else:
        changed = bytearray(data)
        changed[len(data) // 2] ^= 1
        outbound.write_bytes(bytes(changed))
    before = pending_on_public_host(gap)

    result = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound))

    assert result.code == 1 and "batch refused" in result.err
    assert pending_on_public_host(gap) == before != []


def test_an_export_that_fails_leaves_no_batch_file(
    gap: AirGap, capsys: pytest.CaptureFixture[str], unused_url: str
) -> None:
    gap.connected.env["IBLAGH_SYNC_URL"] = unused_url
    target = gap.work / "carry" / "in.batch"
    result = gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(target))
    assert result.code == 1 and "cannot reach the public host" in result.err
    assert list(target.parent.glob("*.batch*")) == []


def test_the_outbound_batch_carries_an_audit_anchor_that_the_public_host_keeps(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    from journalist_app.audit_anchor import verify_against_anchor

    outbound = gap.work / "carry" / "out-anchor.batch"
    written = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(outbound))
    assert written.code == 0, written.err
    assert "audit anchor at entry " in written.out
    uploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(outbound))
    assert uploaded.code == 0, uploaded.err
    assert "audit anchor kept" in uploaded.out

    with gap.offline.session() as session:
        sync_key = gap.offline.keyring(session).sync_key
        assert sync_key is not None
        kept = SyncClient(gap.sync_url, sync_key).fetch_latest_audit_anchor()
        assert kept is not None
        check, anchor = verify_against_anchor(session, kept)
    assert check.intact and anchor.checkpoint.count >= 1
    anchored = re.search(r"audit anchor at entry (\d+)", written.out)
    assert anchored is not None and anchor.checkpoint.count == int(anchored.group(1))
    # The offline host keeps its own copy, which a plain 'audit verify' checks.
    copies = list((gap.offline.data_dir / "audit-anchors").glob("*.json"))
    assert [path.read_bytes() for path in copies] == [kept]
