"""One large attachment end to end: client → gunicorn → sealed on disk, against raw crypto.

``python -m bench --upload-mb 1024``. The reference figures are what the machine does
without HTTP, multipart parsing or a disk: PyNaCl's secretstream alone, and the whole
envelope writer (secretstream + framing + SHA-256) into memory.
"""

import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nacl.bindings as sodium

from bench.harness import HOST, RssSampler, Server, _children, _rss_kib, make_data_dir
from crypto.envelope import CHUNK_SIZE, EnvelopeMetadata, EnvelopeWriter
from crypto.keys import generate_box_key

MIB = 1024 * 1024
CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
RECEIPT = re.compile(rb"<bdi>([0-9 ]+)</bdi>")


def raw_secretstream(size: int) -> float:
    """MB/s of crypto_secretstream_xchacha20poly1305_push on 64 KiB chunks, nothing else."""
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
    sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    chunk = os.urandom(CHUNK_SIZE)
    tag = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
    began = time.perf_counter()
    for _ in range(size // CHUNK_SIZE):
        sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, None, tag)
    return size / MIB / (time.perf_counter() - began)


def envelope_in_memory(size: int) -> float:
    """MB/s of crypto.envelope.EnvelopeWriter fed 1 MiB pieces, output thrown away."""

    class Discard:
        def write(self, data: bytes) -> int:
            return len(data)

    keys = [generate_box_key().public_key, generate_box_key().public_key]
    writer = EnvelopeWriter(Discard(), keys, EnvelopeMetadata(kind="attachment"))
    piece = os.urandom(MIB)
    began = time.perf_counter()
    for _ in range(size // MIB):
        writer.write(piece)
    writer.close()
    return size / MIB / (time.perf_counter() - began)


def _session(base_url: str) -> tuple[str, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(base_url + "/report", timeout=30) as response:
        cookie = (response.headers.get("Set-Cookie") or "").split(";", 1)[0]
        match = CSRF.search(response.read())
    if not match or not cookie:
        raise RuntimeError("GET /report gave no CSRF token or no session cookie")
    return cookie, match.group(1).decode()


def _multipart(token: str, size: int, boundary: str) -> tuple[int, Iterator[bytes]]:
    fields = {
        "csrf_token": token, "category": "terrorism", "urls": "https://video.example/1",
        "description": "A long video.", "identity": "anonymous", "good_faith": "y",
    }  # fmt: skip
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        'filename="video.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    block = os.urandom(MIB)

    def pieces() -> Iterator[bytes]:
        yield head
        sent = 0
        while sent < size:
            piece = block[: min(MIB, size - sent)]
            sent += len(piece)
            yield piece
        yield tail

    return len(head) + size + len(tail), pieces()


def upload(base_url: str, port: int, size: int, sent_event: threading.Event) -> dict[str, float]:
    """POST one report with one ``size``-byte file over a raw socket; times in seconds."""
    cookie, token = _session(base_url)
    boundary = f"bench-{uuid.uuid4().hex}"
    length, pieces = _multipart(token, size, boundary)
    request = (
        f"POST /report?lang=en HTTP/1.1\r\nHost: {HOST}\r\nCookie: {cookie}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((HOST, port), timeout=600) as raw:
        began = time.perf_counter()
        raw.sendall(request)
        for piece in pieces:
            raw.sendall(piece)
        sent = time.perf_counter()
        sent_event.set()
        answer = b""
        while data := raw.recv(65536):
            answer += data
        done = time.perf_counter()
    if not answer.startswith(b"HTTP/1.1 200") or not RECEIPT.search(answer):
        raise RuntimeError(f"the upload was refused: {answer[:200]!r}")
    return {"sending_s": sent - began, "total_s": done - began}


def run(size_mb: int, json_path: Path | None) -> int:
    size = size_mb * MIB
    print(f"reference, in this process ({min(size_mb, 512)} MiB each):")
    reference = min(size, 512 * MIB)
    raw = raw_secretstream(reference)
    envelope = envelope_in_memory(reference)
    print(f"  secretstream push, 64 KiB chunks     {raw:7.0f} MiB/s")
    print(f"  EnvelopeWriter (+ SHA-256), memory   {envelope:7.0f} MiB/s")
    print(f"  SHA-256 alone                        {sha256_speed(reference):7.0f} MiB/s")
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-upload-") as tmp:
        data_dir = Path(tmp)
        make_data_dir(data_dir)
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
            print(f"end to end: one {size_mb} MiB attachment, gunicorn --workers 1 --threads 4")
            sent = threading.Event()
            outcome: dict[str, Any] = {}

            def client() -> None:
                try:
                    outcome["times"] = upload(server.base_url, server.port, size, sent)
                except Exception as exc:  # reported below, with the server stopped
                    outcome["error"] = exc
                    sent.set()

            thread = threading.Thread(target=client)
            thread.start()
            # While the body streams in; the receipt's argon2id (64 MiB) comes after.
            streaming_peak = baseline
            while not sent.wait(0.02):
                streaming_peak = max(streaming_peak, _rss_kib(worker))
            thread.join()
            sampler.stop()
            if "error" in outcome:
                raise outcome["error"]
            times = outcome["times"]
            stored = max(
                (p for p in (data_dir / "blobs").rglob("*") if p.is_file()),
                key=lambda p: p.stat().st_size,
            )
            stored_size = stored.stat().st_size
        finally:
            server.stop()
    end_to_end = size / MIB / times["total_s"]
    result: dict[str, Any] = {
        "size_mib": size_mb,
        "secretstream_mib_s": raw,
        "envelope_writer_mib_s": envelope,
        "end_to_end_mib_s": end_to_end,
        "sending_s": times["sending_s"],
        "total_s": times["total_s"],
        "worker_rss_before_mib": baseline / 1024,
        "worker_rss_peak_streaming_mib": streaming_peak / 1024,
        "worker_rss_peak_mib": sampler.peak_worker / 1024,
        "stored_envelope_bytes": stored_size,
    }
    print(f"  client → gunicorn → sealed on disk  {end_to_end:7.0f} MiB/s")
    print(f"  ({times['total_s']:.1f} s until the receipt page, of which sending "
          f"{times['sending_s']:.1f} s; then fsync, commit and one argon2id)")  # fmt: skip
    print(
        f"  worker RSS: {baseline / 1024:.0f} MiB before, {streaming_peak / 1024:.0f} MiB at most "
        f"while the file streamed in, {sampler.peak_worker / 1024:.0f} MiB at most overall"
    )
    print("  (overall includes the receipt's argon2id, 64 MiB, the same for any report)")
    print(f"  envelope on disk: {stored_size} bytes ({stored_size - size} of overhead)")
    print(f"  end to end is {end_to_end / raw:.0%} of raw secretstream speed")
    if json_path:
        json_path.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def sha256_speed(size: int) -> float:
    """MB/s of hashlib.sha256, for reading the table (the writer hashes everything twice)."""
    data = os.urandom(MIB)
    digest = hashlib.sha256()
    began = time.perf_counter()
    for _ in range(size // MIB):
        digest.update(data)
    return size / MIB / (time.perf_counter() - began)
