"""``python -m bench``: report submissions per second, latency and RSS per concurrency level."""

import argparse
import json
import math
import os
import platform
import signal
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

from bench import (
    browser_path,
    officer,
    officer_retention,
    referral,
    resumable_upload,
    scale_out,
    upload,
)
from bench.harness import RssSampler, Server, make_data_dir
from bench.submissions import run_level

COLUMNS = [
    ("concurrency", "{}"), ("requests", "{}"), ("failures", "{}"), ("req/s", "{:.1f}"),
    ("p50 ms", "{:.0f}"), ("p99 ms", "{:.0f}"), ("max ms", "{:.0f}"),
    ("peak RSS MiB", "{:.0f}"), ("peak/worker MiB", "{:.0f}"),
]  # fmt: skip


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest rank; 0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def measure(server: Server, concurrency: int, seconds: float, limit: int) -> dict[str, Any]:
    assert server.proc is not None
    sampler = RssSampler(server.proc.pid)
    sampler.start()
    try:
        results, elapsed = run_level(server.base_url, concurrency, seconds, limit)
    finally:
        sampler.stop()
    latencies = sorted(t * 1000 for r in results for t in r.latencies)
    errors = [r.first_error for r in results if r.first_error]
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "failures": sum(r.failures for r in results),
        "req/s": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50 ms": percentile(latencies, 0.50),
        "p99 ms": percentile(latencies, 0.99),
        "max ms": latencies[-1] if latencies else 0.0,
        "peak RSS MiB": sampler.peak_total / 1024,
        "peak/worker MiB": sampler.peak_worker / 1024,
        "seconds": elapsed,
        "first_error": errors[0] if errors else "",
    }


def table(rows: list[dict[str, Any]]) -> str:
    cells = [[name for name, _ in COLUMNS]]
    cells += [[fmt.format(row[name]) for name, fmt in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--concurrency", default="1,4,16", help="client threads per level")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each level")
    parser.add_argument("--requests", type=int, default=0, help="POSTs per client (0: no cap)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn --workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn --threads")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument(
        "--browser-path",
        action="store_true",
        help="browser-sealed submissions (prepared ahead) beside the server path, one run",
    )
    parser.add_argument(
        "--browser-pool", type=int, default=30000, help="--browser-path: requests prepared"
    )
    parser.add_argument(
        "--officer",
        action="store_true",
        help="benchmark the officer host instead (bench/officer.py): ingest and queue pages",
    )
    parser.add_argument("--reports", type=int, default=1000, help="--officer: reports ingested")
    parser.add_argument("--cases", type=int, default=100_000, help="--officer: cases queued")
    parser.add_argument("--pages", type=int, default=40, help="--officer: requests per scenario")
    parser.add_argument(
        "--dashboard",
        action="store_true",
        help="benchmark the dashboard and the retention purge (bench/officer_retention.py)",
    )
    parser.add_argument(
        "--purge-cases", type=int, default=100_000, help="--dashboard: expired cases purged"
    )
    parser.add_argument(
        "--database-url",
        help="--dashboard, --officer: PostgreSQL instead of SQLite "
        "(--officer then times the queue and search only)",
    )
    parser.add_argument(
        "--referral",
        action="store_true",
        help="benchmark building one referral packet instead (bench/referral.py)",
    )
    parser.add_argument(
        "--attachments", type=int, default=10, help="--referral: attachments in the case"
    )
    parser.add_argument(
        "--attachment-mb", type=int, default=10, help="--referral: MiB of each attachment"
    )
    parser.add_argument("--builds", type=int, default=3, help="--referral: builds timed")
    parser.add_argument(
        "--upload-mb",
        type=int,
        default=0,
        help="benchmark one attachment of this many MiB end to end instead (bench/upload.py)",
    )
    parser.add_argument(
        "--resumable",
        action="store_true",
        help="--upload-mb: browser-sealed, through the resumable uploads "
        "(bench/resumable_upload.py)",
    )
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="one host on SQLite + folder against 2 replicas behind nginx on PostgreSQL + S3 "
        "(moto) + Redis, in one run (bench/scale_out.py; --database-url or "
        "IBLAGH_TEST_POSTGRES_URL); levels from --concurrency (default here 4,16)",
    )
    parser.add_argument(
        "--soak",
        action="store_true",
        help="the scaled-out tier at twice the one host's 4-client rate, with sync, RSS "
        "sampled every 10 s (bench/scale_out.py)",
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="--soak: duration")
    parser.add_argument(
        "--rate",
        type=float,
        help="--soak: reports/s asked of the tier (default: twice the one host's 4-client rate)",
    )
    args = parser.parse_args(argv)
    args.levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    if not args.levels or min(args.levels) < 1 or args.seconds <= 0:
        parser.error("--concurrency needs positive integers and --seconds a positive number")
    return args


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that the finally below stops gunicorn


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.officer:
        return officer.run(args.reports, args.cases, args.pages, args.json, args.database_url)
    if args.scale_out or args.soak:
        url = args.database_url or os.environ.get("IBLAGH_TEST_POSTGRES_URL")
        if not url:
            print("--scale-out and --soak need --database-url (PostgreSQL)", file=sys.stderr)
            return 2
        if args.soak:
            return scale_out.run_soak(url, args.minutes, args.seconds, args.rate)
        levels = tuple(args.levels) if args.concurrency != "1,4,16" else scale_out.LEVELS
        status, levels_rows = scale_out.run_scale_out(url, args.seconds, levels)
        if args.json:
            args.json.write_text(json.dumps(levels_rows, indent=2) + "\n")
        return status
    if args.referral:
        return referral.run(args.attachments, args.attachment_mb, args.builds)
    if args.dashboard:
        return officer_retention.run(args.cases, args.purge_cases, args.pages, args.database_url)
    if args.upload_mb and args.resumable:
        return resumable_upload.run(args.upload_mb, args.json)
    if args.upload_mb:
        return upload.run(args.upload_mb, args.json)
    if args.browser_path:
        return browser_path.run(
            args.levels, args.seconds, args.workers, args.threads, args.browser_pool, args.json
        )
    signal.signal(signal.SIGTERM, _terminate)
    machine = {
        "nproc": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "gunicorn": version("gunicorn"),
    }
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-") as tmp:
        make_data_dir(Path(tmp))
        server = Server(Path(tmp), args.workers, args.threads)
        try:
            server.start()
            print(f"machine: nproc={machine['nproc']}, Python {machine['python']}")
            print(f"server: gunicorn {machine['gunicorn']} {server.target} on {server.base_url},")
            print(f"        --workers {args.workers} --threads {args.threads}")
            cap = f", at most {args.requests} POSTs per client" if args.requests else ""
            print(f"load: {args.seconds:g} s per level{cap}; text reports, ~1 KB description")
            for level in args.levels:
                print(f"  concurrency {level} ...", file=sys.stderr, flush=True)
                rows.append(measure(server, level, args.seconds, args.requests))
        except KeyboardInterrupt:
            print("interrupted; stopping gunicorn", file=sys.stderr)
            return 130
        finally:
            server.stop()
    print()
    print(table(rows))
    print()
    print("Each submission runs one argon2id derivation (64 MiB, crypto/receipt.py) which")
    print("dominates CPU: expect throughput to top out near nproc / argon2id time.")
    for row in rows:
        if row["first_error"]:
            print(f"first failure at concurrency {row['concurrency']}: {row['first_error']}")
    if args.json:
        config = {k: getattr(args, k) for k in ("seconds", "requests", "workers", "threads")}
        report = {"machine": machine, "config": config, "target": server.target, "levels": rows}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(row["failures"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
