"""``python -m bench --browser-path``: browser-sealed submissions beside the server path.

The browser path's expensive work (argon2id, sealing) happens in the reporter's browser,
so the bench does it ahead, before the clock starts: each prepared request is exactly
what source_app/static/js/report_form.js posts (a length-prefixed manifest, a 2 KB text
report body and an identity section sealed to the host's recipient set, a fresh lookup
value and reporter key), posted to ``POST /report/sealed`` with the session cookie and
the CSRF header over a kept-alive connection. The server path fills in the form as
bench/submissions.py does. Both run against the same gunicorn in one run; the load
generator is this process, gunicorn its own. Server CPU per request is the gunicorn
processes' user+system time over the level divided by the requests answered.
"""

import http.client
import itertools
import json
import math
import os
import re
import struct
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from nacl.signing import VerifyKey
from nacl.utils import random

from bench.harness import HOST, RssSampler, Server, _children, make_data_dir
from bench.submissions import run_level
from crypto.encoding import b64decode, b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.recipients import RecipientSet, verify_recipient_set

CSRF = re.compile(rb'name="csrf_token" type="hidden" value="([^"]+)"')
DESCRIPTION = ("Video glorifying an attack, shared with a call to join; reposted. " * 40)[:2000]
IDENTITY = json.dumps(
    {
        "v": 2,
        "binding": "",
        "full_name": "Salma B.",
        "national_id": "",
        "phone": "0612345678",
        "email": "",
        "city": "Rabat",
    }
).encode()
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def prepare(recipients: RecipientSet, count: int) -> list[bytes]:
    """``count`` request bodies as the browser builds them (the sealing done ahead)."""
    report_keys, identity_keys = recipients.public_keys(), recipients.identity_public_keys()
    meta = EnvelopeMetadata(kind="report", content_type="application/json")
    identity_meta = EnvelopeMetadata(kind="identity", content_type="application/json")
    bodies = []
    for serial in range(count):
        reporter = PrivateKey.generate().public_key
        body = json.dumps({"v": 2, "content": f"[{serial}] {DESCRIPTION}", "signature": ""})
        parts = [
            ("body", seal_bytes(body.encode(), report_keys, meta)),
            ("identity", seal_bytes(IDENTITY, identity_keys, identity_meta)),
        ]
        manifest = json.dumps(
            {
                "lookup_value": b64encode(random(32)),
                "reporter_public_key": b64encode(bytes(reporter)),
                "parts": [[name, len(envelope)] for name, envelope in parts],
            }
        ).encode()
        bodies.append(struct.pack(">I", len(manifest)) + manifest + b"".join(e for _, e in parts))
    return bodies


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    first_error: str = ""


def _session(port: int) -> tuple[http.client.HTTPConnection, str, str]:
    connection = http.client.HTTPConnection(HOST, port, timeout=60)
    connection.request("GET", "/report")
    response = connection.getresponse()
    page = response.read()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    match = CSRF.search(page)
    return connection, cookie, match.group(1).decode() if match else ""


def _client(port: int, pool: list[bytes], take: Any, start: threading.Barrier,
            deadline: list[float], out: ClientResult) -> None:  # fmt: skip
    connection, cookie, token = _session(port)
    start.wait()
    while time.monotonic() < deadline[0]:
        index = next(take)
        if index >= len(pool):
            out.failures += 1
            out.first_error = out.first_error or "ran out of prepared requests"
            return
        headers = {"Content-Type": "application/octet-stream", "X-CSRFToken": token,
                   "Cookie": cookie}  # fmt: skip
        began = time.perf_counter()
        try:
            connection.request("POST", "/report/sealed", body=pool[index], headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except OSError as error:
            out.failures += 1
            out.first_error = out.first_error or f"{type(error).__name__}: {error}"
            connection.close()
            connection = http.client.HTTPConnection(HOST, port, timeout=60)
            continue
        if status == 201:
            out.latencies.append(time.perf_counter() - began)
        else:
            out.failures += 1
            out.first_error = out.first_error or f"HTTP {status}"
    connection.close()


def _cpu_seconds(master: int) -> float:
    total = 0
    for pid in [master, *_children(master)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _CLOCK_TICKS


def _percentile(values: list[float], fraction: float) -> float:
    return values[max(1, math.ceil(fraction * len(values))) - 1] if values else 0.0


def _row(path: str, level: int, results: list[Any], elapsed: float, cpu: float,
         sampler: RssSampler) -> dict[str, Any]:  # fmt: skip
    latencies = sorted(t * 1000 for r in results for t in r.latencies)
    errors = [r.first_error for r in results if r.first_error]
    return {
        "path": path,
        "concurrency": level,
        "requests": len(latencies),
        "failures": sum(r.failures for r in results),
        "req/s": len(latencies) / elapsed if elapsed else 0.0,
        "p50 ms": _percentile(latencies, 0.5),
        "p99 ms": _percentile(latencies, 0.99),
        "CPU ms/req": 1000 * cpu / len(latencies) if latencies else 0.0,
        "peak RSS MiB": sampler.peak_total / 1024,
        "first_error": errors[0] if errors else "",
    }


def measure_browser_path(server: Server, pool: list[bytes], take: Any, level: int,
                         seconds: float) -> dict[str, Any]:  # fmt: skip
    assert server.proc is not None
    results = [ClientResult() for _ in range(level)]
    deadline = [0.0]
    start = threading.Barrier(
        level + 1, action=lambda: deadline.__setitem__(0, time.monotonic() + seconds)
    )
    threads = [
        threading.Thread(
            target=_client, args=(server.port, pool, take, start, deadline, results[i]), daemon=True
        )
        for i in range(level)
    ]
    for thread in threads:
        thread.start()
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    cpu_before = _cpu_seconds(server.proc.pid)
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    cpu = _cpu_seconds(server.proc.pid) - cpu_before
    sampler.stop()
    return _row("browser", level, results, elapsed, cpu, sampler)


def measure_server_path(server: Server, level: int, seconds: float) -> dict[str, Any]:
    assert server.proc is not None
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    cpu_before = _cpu_seconds(server.proc.pid)
    results, elapsed = run_level(server.base_url, level, seconds, 0)
    cpu = _cpu_seconds(server.proc.pid) - cpu_before
    sampler.stop()
    return _row("server", level, results, elapsed, cpu, sampler)


COLUMNS = [
    ("path", "{}"), ("concurrency", "{}"), ("requests", "{}"), ("failures", "{}"),
    ("req/s", "{:.1f}"), ("p50 ms", "{:.1f}"), ("p99 ms", "{:.1f}"), ("CPU ms/req", "{:.2f}"),
    ("peak RSS MiB", "{:.0f}"),
]  # fmt: skip


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[name for name, _ in COLUMNS]]
    cells += [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells
    )


def run(levels: list[int], seconds: float, workers: int, threads: int, pool_size: int,
        json_path: Path | None) -> int:  # fmt: skip
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-") as tmp:
        data_dir = Path(tmp)
        make_data_dir(data_dir)
        verify_key = VerifyKey(b64decode((data_dir / "unit-verify-key").read_text().strip()))
        recipients = verify_recipient_set(
            (data_dir / "recipient-set.json").read_bytes(), verify_key
        )
        began = time.monotonic()
        pool = prepare(recipients, pool_size)
        size = len(pool[0])
        print(f"prepared {pool_size} browser requests ({size} bytes each) in "
              f"{time.monotonic() - began:.1f} s", file=sys.stderr)  # fmt: skip
        take = itertools.count()
        server = Server(data_dir, workers, threads)
        try:
            server.start()
            print(f"server: gunicorn {server.target}, --workers {workers} --threads {threads}")
            print(f"load: {seconds:g} s per level; browser path: {size}-byte request")
            print("      (2 KB report + identity, sealed ahead); server path: form, ~1 KB text")
            for level in levels:
                print(f"  browser path, concurrency {level} ...", file=sys.stderr, flush=True)
                rows.append(measure_browser_path(server, pool, take, level, seconds))
            for level in levels:
                print(f"  server path, concurrency {level} ...", file=sys.stderr, flush=True)
                rows.append(measure_server_path(server, level, seconds))
        finally:
            server.stop()
    print()
    print(table(rows))
    for row in rows:
        if row["first_error"]:
            print(f"first failure ({row['path']}, {row['concurrency']}): {row['first_error']}")
    if json_path:
        json_path.write_text(json.dumps({"levels": rows}, indent=2) + "\n")
    return 1 if any(row["failures"] for row in rows) else 0
