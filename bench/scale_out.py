"""``python -m bench --scale-out`` and ``python -m bench --soak``: the public tier scaled out.

Scale-out: the same text reports, in one run, against

- one host: gunicorn (2 workers x 4 threads) on SQLite and the local blob folder;
- two replicas (1 worker x 4 threads each) behind the reference nginx block
  (deploy/nginx/iblagh-public.conf) on PostgreSQL, an S3 bucket (moto's server on
  loopback) and Redis for the shared limits,

at each concurrency level: reports/s, p50/p99 and failures. The topology is the one
tests/test_replicas_behind_nginx.py checks (tests/support/public_tier.py).

Soak: the scaled-out tier with its sync listener and an officer host syncing with its
CLI in a loop, fed at twice the rate the one host reached with 4 clients, for N minutes;
the RSS of every process (each replica's gunicorn, the sync listener, nginx, Redis) is
sampled every 10 s and its slope reported; at the end every report shown a receipt code
has been synced once (the officer host stores as many reports as were acknowledged, and
the public host holds none).

Argon2id slots: alone, each of the host's 2 workers holds IBLAGH_ARGON2_CONCURRENCY
(default: 2 cores) slots, 4 in all; with Redis the slots are shared by the tier, so the
tier is given 4 too, to compare like with like on this machine.
"""

import math
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.harness import Server, _children, _rss_kib, make_data_dir
from bench.officer import _table
from bench.submissions import ClientResult, run_level

LEVELS = (4, 16)


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@contextmanager
def _postgres_schema(database_url: str) -> Iterator[str]:
    """A fresh schema on ``database_url``, dropped after; yields the URL that uses it."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in database_url else "?"
    try:
        yield f"{database_url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@contextmanager
def scaled_out(
    folder: Path, database_url: str, data_dir: Path, with_sync: bool = False
) -> Iterator[tuple[Any, dict[str, str], int]]:
    """Redis, the bucket, the schema and two replicas behind nginx; yields the tier, the
    replicas' environment and Redis's process id."""
    from tests.support.public_tier import public_tier, running_s3_bucket
    from tests.support.redis_server import running_redis

    with ExitStack() as stack:
        redis = stack.enter_context(running_redis(folder / "redis"))
        bucket = stack.enter_context(running_s3_bucket())
        schema_url = stack.enter_context(_postgres_schema(database_url))
        environ = {
            "IBLAGH_DATA_DIR": str(data_dir),
            "IBLAGH_SUBMISSIONS_PER_MINUTE": "0",  # the bench measures the host, not the limit
            "IBLAGH_ARGON2_CONCURRENCY": "4",
            "IBLAGH_DATABASE_URL": schema_url,
            "IBLAGH_REDIS_URL": redis.url,
            **bucket,
        }
        tier = stack.enter_context(public_tier(folder, environ, replicas=2, with_sync=with_sync))
        yield tier, environ, redis.process.pid


def _row(topology: str, level: int, results: list[ClientResult], elapsed: float) -> dict[str, Any]:
    latencies = sorted(t * 1000 for r in results for t in r.latencies)
    errors = [r.first_error for r in results if r.first_error]
    return {
        "topology": topology,
        "clients": level,
        "reports": len(latencies),
        "errors": sum(r.failures for r in results),
        "reports/s": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "p50 ms": _percentile(latencies, 0.5),
        "p99 ms": _percentile(latencies, 0.99),
        "first error": errors[0] if errors else "",
    }


COLUMNS = [
    ("topology", "{}"), ("clients", "{}"), ("reports", "{}"), ("errors", "{}"),
    ("reports/s", "{:.1f}"), ("p50 ms", "{:.0f}"), ("p99 ms", "{:.0f}"),
]  # fmt: skip


ONE_HOST = "one host: SQLite + folder"
TIER = "2 replicas + nginx: PostgreSQL + S3 + Redis"


def _one_host(folder: Path, levels: tuple[int, ...], seconds: float) -> list[dict[str, Any]]:
    data_dir = folder / "one-host"
    data_dir.mkdir()
    make_data_dir(data_dir)
    server = Server(data_dir, workers=2, threads=4)
    rows = []
    try:
        server.start()
        for level in levels:
            print(f"  {ONE_HOST}, {level} clients ...", file=sys.stderr, flush=True)
            rows.append(_row(ONE_HOST, level, *run_level(server.base_url, level, seconds, 0)))
    finally:
        server.stop()
    return rows


def run_scale_out(
    database_url: str, seconds: float, levels: tuple[int, ...] = LEVELS
) -> tuple[int, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-scale-") as tmp:
        folder = Path(tmp)
        rows += _one_host(folder, levels, seconds)
        data_dir = folder / "tier-data"
        data_dir.mkdir()
        make_data_dir(data_dir)
        with scaled_out(folder / "tier", database_url, data_dir) as (tier, _environ, _redis):
            for level in levels:
                print(f"  {TIER}, {level} clients ...", file=sys.stderr, flush=True)
                rows.append(_row(TIER, level, *run_level(tier.front.url, level, seconds, 0)))
    ordered = sorted(rows, key=lambda row: (row["clients"], row["topology"] != ONE_HOST))
    print()
    print(f"text reports, {seconds:g} s per level, one run (nproc={len(os.sched_getaffinity(0))}):")
    print(_table(ordered, COLUMNS))
    for row in ordered:
        if row["first error"]:
            print(f"first error, {row['topology']}, {row['clients']} clients: {row['first error']}")
    return (1 if any(row["errors"] for row in rows) else 0), ordered


# --- soak -------------------------------------------------------------------------------


def _tree_rss_kib(pid: int) -> int:
    return _rss_kib(pid) + sum(_rss_kib(child) for child in _children(pid))


def _slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per minute."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    return 60 * sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread


def _paced_clients(url: str, clients: int, rate: float, seconds: float) -> list[ClientResult]:
    """``clients`` reporters sending ``rate`` reports/s in all, evenly spaced."""
    import http.cookiejar
    import urllib.request

    from bench.submissions import CSRF, DESCRIPTION, post

    results = [ClientResult() for _ in range(clients)]
    interval = clients / rate
    end = time.monotonic() + seconds

    def client(index: int) -> None:
        out = results[index]
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
        )
        with opener.open(url + "/report", timeout=30) as response:
            match = CSRF.search(response.read())
        token = match.group(1).decode() if match else ""
        due = time.monotonic() + interval * index / clients
        serial = 0
        while time.monotonic() < end:
            time.sleep(max(0.0, due - time.monotonic()))
            due += interval
            serial += 1
            form = {"csrf_token": token, "category": "terrorism", "identity": "anonymous",
                    "urls": f"https://video.example/soak/{index}-{serial}", "good_faith": "y",
                    "description": f"[soak {index}-{serial}] {DESCRIPTION}"}  # fmt: skip
            began = time.perf_counter()
            problem = post(opener, url + "/report", form)
            if problem:
                out.fail(problem)
            else:
                out.latencies.append(time.perf_counter() - began)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _officer_sync(env: dict[str, str], officer: str) -> subprocess.CompletedProcess[str]:
    """One ``iblagh-officer sync``; a backlog may take minutes, so no short deadline."""
    return subprocess.run(
        [sys.executable, "-m", "journalist_app.cli.main", "sync", "--officer", officer],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )


def run_soak(database_url: str, minutes: float, seconds: float, rate: float | None = None) -> int:
    """The soak at ``rate`` reports/s, or by default twice the one host's 4-client rate."""
    from tests.support.deployment import OFFICER, init_unit

    with tempfile.TemporaryDirectory(prefix="iblagh-bench-soak-") as tmp:
        folder = Path(tmp)
        print("  the one host's rate at 4 clients ...", file=sys.stderr, flush=True)
        base = _one_host(folder, (4,), seconds)[0]
        asked = "2 x the one host's"
        if rate is None:
            rate = 2 * base["reports/s"]
        else:
            asked = f"{rate / base['reports/s']:.2f} x the one host's"
        # The officer host unlocks with the test suites' fast KDF: its passphrase is not
        # what the soak measures (IBLAGH_TESTING reaches the officer CLI only).
        unit = init_unit(folder / "unit", {"IBLAGH_TESTING": "1"})
        tier_dir = folder / "tier"
        with scaled_out(tier_dir, database_url, unit.source_dir, with_sync=True) as (
            tier,
            environ,
            redis_pid,
        ):
            assert tier.sync is not None
            unit.officer_env["IBLAGH_SYNC_URL"] = tier.sync.url
            processes = {
                **{f"replica {chr(97 + n)}": s.process.pid for n, s in enumerate(tier.replicas)},
                "sync listener": tier.sync.process.pid,
                "nginx": tier.front.process.pid,
                "redis": redis_pid,
            }
            samples: dict[str, list[tuple[float, float]]] = {name: [] for name in processes}
            done = threading.Event()
            syncs = {"runs": 0, "failed": 0}
            began = time.monotonic()

            def sample() -> None:
                while not done.is_set():
                    now = time.monotonic() - began
                    for name, pid in processes.items():
                        samples[name].append((now, _tree_rss_kib(pid) / 1024))
                    done.wait(10)

            def officer() -> None:
                while not done.is_set():
                    result = _officer_sync(unit.officer_env, OFFICER)
                    syncs["runs"] += 1
                    syncs["failed"] += result.returncode != 0
                    done.wait(5)

            workers = [threading.Thread(target=sample), threading.Thread(target=officer)]
            for worker in workers:
                worker.start()
            print(f"  soak: {rate:.1f} reports/s for {minutes:g} min ...", file=sys.stderr)
            results = _paced_clients(tier.front.url, 8, rate, minutes * 60)
            done.set()
            for worker in workers:
                worker.join()
            for _ in range(5):  # drain
                final = _officer_sync(unit.officer_env, OFFICER)
                if "synced: 0 new" in final.stdout:
                    break
            pending = _count(environ["IBLAGH_DATABASE_URL"], "submissions")
        stored = _count(f"sqlite:///{unit.officer_dir / 'officer.sqlite3'}", "reports")
    row = _row("soak, " + TIER, 8, results, minutes * 60)
    print()
    print(
        f"soak: {minutes:g} min at {rate:.1f} reports/s asked ({asked} "
        f"{base['reports/s']:.1f}/s at 4 clients), 8 paced clients, officer syncing every 5 s"
    )
    print(_table([row], COLUMNS))
    print(f"sync runs {syncs['runs']} ({syncs['failed']} failed); acknowledged {row['reports']},")
    print(f"stored by the officer host {stored}, left on the public host {pending}")
    print()
    print("RSS every 10 s (first -> last MiB, least-squares slope MiB/min):")
    for name, points in samples.items():
        if points:
            slope = _slope_per_minute(points[1:])
            print(f"  {name:16s} {points[0][1]:7.1f} -> {points[-1][1]:7.1f}  {slope:+.2f}")
    ok = row["errors"] == 0 and stored == row["reports"] and pending == 0
    print("every acknowledged report synced once: " + ("yes" if ok else "NO"))
    return 0 if ok else 1


def _count(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {table}")  # noqa: S608 - our own table names
            return int(connection.execute(query).scalar_one())
    finally:
        engine.dispose()
