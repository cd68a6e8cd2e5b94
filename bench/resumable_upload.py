"""One large browser-sealed attachment through the resumable uploads, against raw crypto.

``python -m bench --upload-mb 1024 --resumable``. The envelope is sealed ahead in this
process, as the reporter's browser seals it (the host never sees plaintext), and kept
in a temporary file; the clock then runs from ``POST /report/uploads`` to the 201 of
``POST /report/sealed``: the parts (8 MiB, each written and fsynced before its answer),
the final claim, the read-back for the framing check and the SHA-256, and the commit
(docs/sync-api.md, "Resumable uploads"). The reference is PyNaCl's secretstream alone,
as in bench/upload.py; the worker's RSS is sampled every 50 ms.
"""

import http.client
import json
import re
import socket
import struct
import tempfile
import time
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import VerifyKey
from nacl.utils import random

from bench.harness import HOST, RssSampler, Server, _children, _rss_kib, make_data_dir
from bench.upload import MIB, raw_secretstream
from crypto.encoding import b64decode, b64encode
from crypto.envelope import EnvelopeMetadata, EnvelopeWriter, seal_bytes
from crypto.recipients import RecipientSet, verify_recipient_set

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')


def seal_ahead(recipients: RecipientSet, size: int, path: Path) -> int:
    """Seal ``size`` bytes into ``path`` as the browser would; returns the envelope size."""
    piece = random(MIB)
    with path.open("wb") as out:
        writer = EnvelopeWriter(
            out, recipients.public_keys(), EnvelopeMetadata(kind="attachment", name="video.mp4")
        )
        for _ in range(size // MIB):
            writer.write(piece)
        writer.close()
    return path.stat().st_size


def final_request(recipients: RecipientSet, upload: str, envelope_size: int) -> bytes:
    """The report's POST body: a small sealed body inline, the attachment by upload id."""
    meta = EnvelopeMetadata(kind="report", content_type="application/json")
    body = seal_bytes(b'{"v": 2, "content": "{}", "signature": ""}', recipients.public_keys(), meta)
    manifest = json.dumps(
        {
            "lookup_value": b64encode(random(32)),
            "reporter_public_key": b64encode(bytes(PrivateKey.generate().public_key)),
            "parts": [["body", len(body)], ["attachment-1", envelope_size, upload]],
        }
    ).encode()
    return struct.pack(">I", len(manifest)) + manifest + body


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes,
    headers: dict[str, str],
) -> tuple[int, bytes]:  # fmt: skip
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def send(port: int, envelope: Path, recipients: RecipientSet) -> dict[str, float]:
    """The browser's requests, timed: open, every part, the final POST."""
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    connection.connect()
    # As browsers do: without it, a part's body waits for the ACK of its headers (Nagle
    # against delayed ACK), 40 ms a request.
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.request("GET", "/report")
    response = connection.getresponse()
    match = CSRF.search(response.read())
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    if not match or not cookie:
        raise RuntimeError("GET /report gave no CSRF token or no session cookie")
    headers = {"Cookie": cookie, "X-CSRFToken": match.group(1).decode()}
    size = envelope.stat().st_size
    began = time.perf_counter()
    status, answer = _exchange(
        connection, "POST", "/report/uploads", json.dumps({"size": size}).encode(),
        {**headers, "Content-Type": "application/json"},
    )  # fmt: skip
    if status != 201:
        raise RuntimeError(f"POST /report/uploads: {status} {answer[:200]!r}")
    opened = json.loads(answer)
    path, part_bytes = f"/report/uploads/{opened['upload']}", opened["part_bytes"]
    offset = 0
    with envelope.open("rb") as source:
        while part := source.read(part_bytes):
            status, answer = _exchange(
                connection, "PATCH", path, part,
                {**headers, "Content-Type": "application/octet-stream",
                 "Upload-Offset": str(offset)},
            )  # fmt: skip
            if status != 200:
                raise RuntimeError(f"PATCH at {offset}: {status} {answer[:200]!r}")
            offset = json.loads(answer)["offset"]
    parts_done = time.perf_counter()
    status, answer = _exchange(
        connection, "POST", "/report/sealed", final_request(recipients, opened["upload"], size),
        {**headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    done = time.perf_counter()
    connection.close()
    if status != 201:
        raise RuntimeError(f"POST /report/sealed: {status} {answer[:200]!r}")
    return {"parts_s": parts_done - began, "final_s": done - parts_done, "total_s": done - began}


def run(size_mb: int, json_path: Path | None) -> int:
    size = size_mb * MIB
    reference = min(size, 512 * MIB)
    raw = raw_secretstream(reference)
    print(f"reference: secretstream push, 64 KiB chunks, in this process  {raw:7.0f} MiB/s")
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-resumable-") as tmp:
        data_dir = Path(tmp) / "source"
        data_dir.mkdir(mode=0o700)
        make_data_dir(data_dir)
        verify_key = VerifyKey(b64decode((data_dir / "unit-verify-key").read_text().strip()))
        recipients = verify_recipient_set(
            (data_dir / "recipient-set.json").read_bytes(), verify_key
        )
        envelope = Path(tmp) / "attachment.envelope"
        began = time.monotonic()
        envelope_size = seal_ahead(recipients, size, envelope)
        print(f"sealed ahead, as the browser does: {envelope_size} bytes in "
              f"{time.monotonic() - began:.1f} s")  # fmt: skip
        server = Server(data_dir, workers=1, threads=4)
        server.env["IBLAGH_MAX_UPLOAD_BYTES"] = str(size + MIB)
        server.env["IBLAGH_MIN_FREE_BYTES"] = str(64 * MIB)
        try:
            server.start()
            assert server.proc is not None
            [worker] = _children(server.proc.pid) or [server.proc.pid]
            baseline = _rss_kib(worker)
            sampler = RssSampler(server.proc.pid, interval=0.05)
            sampler.start()
            times = send(server.port, envelope, recipients)
            sampler.stop()
        finally:
            server.stop()
    speed = size / MIB / times["total_s"]
    result: dict[str, Any] = {
        "size_mib": size_mb,
        "secretstream_mib_s": raw,
        "resumable_mib_s": speed,
        "parts_s": times["parts_s"],
        "final_s": times["final_s"],
        "total_s": times["total_s"],
        "worker_rss_before_mib": baseline / 1024,
        "worker_rss_peak_mib": sampler.peak_worker / 1024,
    }
    print(f"end to end: one {size_mb} MiB attachment in 8 MiB parts, gunicorn --workers 1 "
          "--threads 4, blobs in a local folder")  # fmt: skip
    print(f"  open → parts → report committed        {speed:7.0f} MiB/s "
          f"({speed / raw:.0%} of raw secretstream)")  # fmt: skip
    print(
        f"  ({times['total_s']:.1f} s: parts {times['parts_s']:.1f} s, final POST "
        f"{times['final_s']:.1f} s: claim, read-back for framing and SHA-256, commit)"
    )
    print(f"  worker RSS: {baseline / 1024:.0f} MiB before, "
          f"{sampler.peak_worker / 1024:.0f} MiB at most")  # fmt: skip
    if json_path:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0
