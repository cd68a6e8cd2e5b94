"""Invariants 1, 3, 4 and 9 with files, on a real gunicorn: no plaintext, no trace, no half.

Attachments stream into envelopes as they arrive; these tests send them the way a
browser (or an attacker) does, over real sockets, and then search every byte the host
wrote: its data dir, database, blob store, temporary directory and log.
"""

import base64
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.public import PublicKey

from crypto.contents import ReplyContent
from crypto.encoding import b64decode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from source_app.gunicorn_conf import redact
from tests.conftest import UnitKeys
from tests.support.pulled import OfficerView
from tests.support.raw_http import (
    FilePart,
    Multipart,
    children,
    open_form,
    read_response,
    repeated,
    request_head,
    rss_kib,
    send_multipart,
    send_truncated,
    wait_until,
)
from tests.support.servers import Server, gunicorn
from tests.test_public_host_invariants import PUBLIC_APP, files_under, host_environ

MARKER = "IBLAGH-FILE-MARKER-5d1e"
NAME_MARKER = "IBLAGH-NAME-MARKER-77c2"
REPLY_MARKER = "IBLAGH-REPLY-MARKER-0b9f"
RECEIPT = re.compile(r"<bdi>([0-9 ]{24})</bdi>")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


@pytest.fixture
def public_server(tmp_path: Path, source_data_dir: Path) -> Iterator[Server]:
    environ = host_environ(tmp_path, source_data_dir)
    with gunicorn(PUBLIC_APP, environ, tmp_path / "public.log", workers=2) as server:
        yield server


def report_fields(token: str, marker: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "category": "terrorism",
        "urls": f"https://t.me/{marker}/1",
        "description": f"{marker} description",
        "identity": "anonymous",
        "good_faith": "y",
    }


def file_with_marker(marker: str, size: int = 300_000) -> bytes:
    """A file whose content carries the marker at its start, middle and end."""
    filler = secrets.token_bytes(size)
    return (
        marker.encode()
        + filler[: size // 2]
        + marker.encode()
        + filler[size // 2 :]
        + (marker.encode())
    )


def send_report(server: Server, files: list[tuple[str, bytes]], marker: str = MARKER) -> str:
    session = open_form(server.port)
    parts = [in_memory(name, data) for name, data in files]
    status, page = send_multipart(
        server.port,
        "/report?lang=en",
        session,
        Multipart(report_fields(session.token, marker), parts),
    )
    assert status == 200, page[-1500:]
    match = RECEIPT.search(page)
    assert match
    return match.group(1)


def in_memory(name: str, data: bytes) -> FilePart:
    return FilePart(name, len(data), iter([data]))


def scan_for(needles: list[bytes], *roots: Path) -> list[str]:
    found = []
    for path in files_under(*roots):
        content = path.read_bytes()
        found += [f"{needle!r} in {path}" for needle in needles if needle in content]
    return found


def needles_for(*markers: str) -> list[bytes]:
    found = []
    for marker in markers:
        found += [
            marker.encode(),
            marker.encode("utf-16-le"),
            base64.b64encode(marker.encode())[:16],
        ]
    return found


def test_attachments_follow_ups_and_replies_leave_no_plaintext_anywhere(
    tmp_path: Path, source_data_dir: Path, public_server: Server, unit_keys: UnitKeys
) -> None:
    codes = [
        send_report(
            public_server,
            [(f"{NAME_MARKER}-{i}.png", file_with_marker(MARKER)), ("small.txt", MARKER.encode())],
        )
        for i in range(3)
    ]
    # A follow-up with a file, and a reply the reporter reads with the code.
    session = open_form(public_server.port, "/followup")
    fields = {"csrf_token": session.token, "code": codes[0], "message": f"{MARKER} follow-up"}
    part = in_memory(f"{NAME_MARKER}-followup.pdf", file_with_marker(MARKER, 200_000))
    status, page = send_multipart(
        public_server.port, "/followup?lang=en", session, Multipart(fields, [part])
    )
    assert status == 200, page[-1500:]
    officer = OfficerView(source_data_dir, unit_keys)
    first = officer.client.pending()[0]
    envelope = seal_bytes(
        ReplyContent(sent_at="2026-11-28T18:00:00Z", message=REPLY_MARKER).to_json(),
        [PublicKey(b64decode(first["reporter_public_key"], length=32))],
        EnvelopeMetadata(kind="reply", content_type="application/json"),
    )
    reply_id = secrets.token_hex(16)
    for path, headers in (
        (f"/sync/v1/reporters/{first['reporter_id']}/replies/{reply_id}", {}),
        (f"/sync/v1/reporters/{first['reporter_id']}/replies", {"X-Iblagh-Reply-Id": reply_id}),
    ):
        if officer.client.request("POST", path, envelope, headers=headers).status_code < 300:
            break
    session = open_form(public_server.port, "/status")
    status, page = send_multipart(
        public_server.port, "/status?lang=en", session,
        Multipart({"csrf_token": session.token, "code": codes[0]}, []),
    )  # fmt: skip
    assert status == 200 and REPLY_MARKER in page
    # An upload cut off half-way carries the marker too.
    session = open_form(public_server.port)
    body = Multipart(
        report_fields(session.token, MARKER),
        [in_memory(f"{NAME_MARKER}-cut.bin", file_with_marker(MARKER, 2_000_000))],
    )
    send_truncated(public_server.port, "/report", session, body, 1_000_000, half_close=False)
    assert wait_until(lambda: not list((source_data_dir / "blobs" / ".incoming").iterdir()))
    time.sleep(0.5)  # let the log lines land

    roots = (source_data_dir, public_server.log_path, tmp_path / "host-tmp")
    written = list(files_under(*roots))
    assert sum(1 for p in written if "blobs" in p.parts) >= 10, "the scan must cover the files"
    assert scan_for(needles_for(MARKER, NAME_MARKER, REPLY_MARKER), *roots) == []
    for code in codes:
        assert scan_for([code.replace(" ", "").encode(), code.encode()], *roots) == []
    # And the unit does get every file, whole.
    pulled = officer.pending()
    names = sorted(
        blob.metadata.name for s in pulled for n, blob in s.blobs.items() if n.startswith("att")
    )
    assert names == sorted(
        [f"{NAME_MARKER}-{i}.png" for i in range(3)] + ["small.txt"] * 3
        + [f"{NAME_MARKER}-followup.pdf"]
    )  # fmt: skip


@pytest.mark.parametrize("half_close", [False, True], ids=["client-gone", "short-body"])
@pytest.mark.parametrize("stop_after", [600, 80_000, 3_000_000])
def test_an_aborted_upload_leaves_no_row_no_blob_and_no_temporary_file(
    tmp_path: Path, source_data_dir: Path, public_server: Server, half_close: bool, stop_after: int
) -> None:
    send_report(public_server, [("warm-up.txt", b"warm up")])  # creates the tables
    before = sorted(files_under(source_data_dir / "blobs"))
    session = open_form(public_server.port)
    body = Multipart(
        report_fields(session.token, MARKER),
        [
            FilePart("first.bin", 1_000_000, repeated(1_000_000)),
            FilePart("second.bin", 4_000_000, repeated(4_000_000)),
        ],
    )
    send_truncated(public_server.port, "/report", session, body, stop_after, half_close=half_close)
    incoming = source_data_dir / "blobs" / ".incoming"
    time.sleep(0.3)
    assert wait_until(lambda: not list(incoming.iterdir())), list(incoming.iterdir())
    assert sorted(files_under(source_data_dir / "blobs")) == before
    officer_rows = __import__("sqlite3").connect(source_data_dir / "source.db")
    assert officer_rows.execute("SELECT count(*) FROM submissions").fetchone()[0] == 1
    assert scan_for([MARKER.encode()], source_data_dir, tmp_path / "host-tmp") == []


def test_no_address_reaches_the_log_after_uploads_and_errors(
    source_data_dir: Path, public_server: Server
) -> None:
    send_report(public_server, [("a.png", b"\x89PNG\r\n\x1a\n" + b"x" * 100_000)])
    session = open_form(public_server.port)
    body = Multipart(
        report_fields(session.token, MARKER), [FilePart("x", 500_000, repeated(500_000))]
    )
    send_truncated(public_server.port, "/report", session, body, 200_000, half_close=False)
    send_truncated(public_server.port, "/report", session, body, 200_000, half_close=True)
    session = open_form(public_server.port)
    send_multipart(public_server.port, "/report", session, Multipart({"csrf_token": "bad"}, []))
    time.sleep(0.5)
    log = public_server.log_path.read_text(errors="replace")
    assert "POST /report " in log, "the access log must be on for this to mean anything"
    assert _IPV4.findall(log) == [], "an IPv4 address in the log"
    assert redact(log) == log, "an address-like string in the log"
    assert MARKER not in log


def _worker_pid(server: Server) -> int:
    [worker] = children(server.process.pid)
    return worker


@pytest.mark.slow
def test_a_one_gigabyte_upload_streams_in_flat_memory(
    tmp_path: Path, source_data_dir: Path, unit_keys: UnitKeys
) -> None:
    """1 GiB through a real gunicorn worker: its RSS must not follow the file's size."""
    size = 1024**3
    environ = {
        **host_environ(tmp_path, source_data_dir),
        "IBLAGH_MAX_UPLOAD_BYTES": str(size + 1024**2),
        "IBLAGH_MIN_FREE_BYTES": str(64 * 1024**2),
    }
    with gunicorn(PUBLIC_APP, environ, tmp_path / "big.log", workers=1) as server:
        send_report(server, [("warm-up.txt", b"warm up")])  # imports, tables, one argon2id
        [worker] = children(server.process.pid)
        baseline = rss_kib(worker)
        session = open_form(server.port)
        block = secrets.token_bytes(1024 * 1024)
        body = Multipart(
            report_fields(session.token, "big"), [FilePart("big.mp4", size, repeated(size, block))]
        )
        sent = threading.Event()
        answer: list[tuple[int, str]] = []

        def upload() -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=120) as raw:
                raw.sendall(request_head("/report?lang=en", session, body, body.length()))
                for piece in body.pieces():
                    raw.sendall(piece)
                sent.set()
                answer.append(read_response(raw))

        began = time.monotonic()
        uploader = threading.Thread(target=upload)
        uploader.start()
        # Sample while the body streams in. The receipt's argon2id (64 MiB, freed at
        # once) runs after the last byte: it is the cost of any report, not of its size.
        peak = baseline
        while not sent.is_set() and uploader.is_alive():
            peak = max(peak, rss_kib(worker))
            time.sleep(0.01)
        uploader.join(timeout=120)
        elapsed = time.monotonic() - began
        [(status, page)] = answer
        assert status == 200, page[-1500:]
    growth_mib = (peak - baseline) / 1024
    print(f"1 GiB upload: {elapsed:.1f} s, {1024 / elapsed:.0f} MiB/s, RSS +{growth_mib:.1f} MiB")
    assert growth_mib < 40, f"the worker's RSS grew by {growth_mib:.0f} MiB"
    [stored] = [p for p in files_under(source_data_dir / "blobs") if p.stat().st_size > size]
    metadata = b'{"kind": "attachment", "name": "big.mp4", "type": "application/octet-stream"}'
    assert stored.stat().st_size == 115 + 96 * 2 + len(metadata) + size + 21 * (size // 65536)
    with stored.open("rb") as envelope:
        assert envelope.read(8) == b"IBLAGH/1"
        envelope.seek(size // 2)
        assert block[:4096] not in envelope.read(8 * 1024 * 1024)
