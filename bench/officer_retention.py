"""``python -m bench --dashboard``: the statistics dashboard and the retention purge at scale.

1. Dashboard: N cases (the queue bench's mix: categories, ages over a year, statuses,
   territories, assignees), each with one report and, once triaged, its status change in
   the case history. Times the dashboard page (last 30 days, and a whole year), one chart
   (SVG) and the CSV export through the Flask test client, logged in as a supervisor.
2. Purge: N cases closed as duplicates 40 days ago, each with one report and one 200-byte
   envelope on disk; times ``purge_due`` over all of them (one transaction and one audit
   tombstone per case), samples this process's RSS as it goes (memory should stay flat),
   then times the database rebuild (VACUUM) and checks the audit chain.

SQLite by default; ``--database-url`` points both at another database (PostgreSQL).
"""

import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text

from bench.officer import NOW, Timing, _config, _fill_cases, _table
from journalist_app import create_app
from journalist_app.audit import verify_chain
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Case, CaseEvent, Officer, Report, ReportBlob, ReportTriage
from journalist_app.retention.purge import compact, purge_due
from journalist_app.retention.rules import load_rules
from journalist_app.stats import summary
from journalist_app.triage.events import TriageAction
from journalist_app.views.context import EXTENSION, KEYRING_SESSION_KEY

BATCH = 10_000


@contextmanager
def _database(config: OfficerConfig, database_url: str | None) -> Iterator[OfficerConfig]:
    """``config`` on SQLite in its data dir, or on a fresh PostgreSQL schema dropped after."""
    if database_url is None:
        yield config
        return
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(database_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in database_url else "?"
    try:
        yield OfficerConfig.from_env(
            {
                "IBLAGH_DATA_DIR": str(config.data_dir),
                "IBLAGH_KDF": "fast",
                "IBLAGH_TESTING": "1",
                "IBLAGH_DATABASE_URL": f"{database_url}{separator}options=-csearch_path%3D{schema}",
            }
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _add_reports_and_events(session: Any) -> None:
    """One report per case, and the status change of every case that left "new"."""
    after = 0
    while True:
        rows = session.execute(
            select(Case.id, Case.received, Case.category, Case.status, Case.triaged_at)
            .where(Case.id > after)
            .order_by(Case.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        after = rows[-1][0]
        reports, triages, events = [], [], []
        for case_id, received, category, status, triaged_at in rows:
            report_id = secrets.token_hex(16)
            reports.append(
                {
                    "id": report_id,
                    "kind": "report",
                    "reporter_id": secrets.token_hex(16),
                    "reporter_public_key": secrets.token_bytes(32),
                    "received_hour": received,
                    "synced_at": received,
                }
            )
            triages.append(
                {
                    "report_id": report_id,
                    "case_id": case_id,
                    "state": "indexed",
                    "category": category,
                    "registered_at": received,
                }
            )
            if status != "new" and triaged_at is not None:
                events.append(
                    {
                        "case_id": case_id,
                        "at": triaged_at,
                        "actor": "officer00",
                        "action": TriageAction.STATUS_CHANGED,
                        "details": {"from": "new", "to": status},
                    }
                )
        session.execute(insert(Report), reports)
        session.execute(insert(ReportTriage), triages)
        if events:
            session.execute(insert(CaseEvent), events)
        session.commit()


def _spread_triage_times(session: Any) -> None:
    """Triage from a few minutes to four days after receipt (to the second on SQLite, the
    microsecond on PostgreSQL), as a unit's would be; the queue bench triages every case
    one hour after. The delays' percentiles then sort distinct values."""
    if session.get_bind().dialect.name == "postgresql":
        spread = text(
            "UPDATE cases SET triaged_at = received + random() * interval '96 hours' "
            "WHERE triaged_at IS NOT NULL"
        )
    else:
        spread = text(
            "UPDATE cases SET triaged_at = datetime(received, '+' || "
            "(abs(random()) % 345600) || ' seconds') WHERE triaged_at IS NOT NULL"
        )
    session.execute(spread)
    session.commit()


def _supervisor(session: Any) -> UnlockedKeyring:
    officer = Officer(
        username="supervisor",
        password_hash=b"-",
        public_key=secrets.token_bytes(32),
        wrapped_private_key=b"{}",
        role="supervisor",
    )
    session.add(officer)
    session.commit()
    return UnlockedKeyring(username="supervisor", role="supervisor", officer_id=officer.id)


def bench_dashboard(
    count: int, repeat: int, rng: random.Random, database_url: str | None = None
) -> list[Timing]:
    with (
        tempfile.TemporaryDirectory(prefix="iblagh-bench-stats-") as tmp,
        _database(_config(Path(tmp)), database_url) as config,
    ):
        engine = make_engine(config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        print(f"  writing {count} cases, reports and events ...", file=sys.stderr, flush=True)
        _fill_cases(session, count, rng)
        _spread_triage_times(session)
        _add_reports_and_events(session)
        # Written by bulk inserts: the daily summary is counted once, as an upgrade would.
        began = time.perf_counter()
        summary.fill_first_event_times(session.connection())
        rows = summary.rebuild(session.connection())
        session.commit()
        print(
            f"  daily summary: {rows} rows, counted in {time.perf_counter() - began:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        keyring = _supervisor(session)
        session.commit()
        session.close()
        # What a running host's statistics and visibility map would be (autovacuum, or
        # the sync's ANALYZE): the delays read a covering index, which PostgreSQL reads
        # alone only for pages a VACUUM has marked all-visible.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            postgres = connection.dialect.name == "postgresql"
            # The bench's own tables only: a plain VACUUM would visit every schema.
            tables = "cases, reports, report_triage, case_events, stats_daily, officers"
            connection.execute(text(f"VACUUM ANALYZE {tables}" if postgres else "ANALYZE"))
        engine.dispose()
        app = create_app(config)
        client = app.test_client()
        with client.session_transaction() as cookie:
            cookie[KEYRING_SESSION_KEY] = app.extensions[EXTENSION].keyrings.open(keyring)
        year = f"start={(NOW - timedelta(days=364)).date()}&end={NOW.date()}"
        scenarios = {
            "dashboard, last 30 days": "/stats",
            "dashboard, one year": f"/stats?{year}",
            "dashboard, one year, one category": f"/stats?{year}&category=fraud",
            "chart (SVG), by category, one year": f"/stats/chart/by_category.svg?{year}",
            "chart (SVG), by day, one year": f"/stats/chart/reports_by_day.svg?{year}",
            "CSV export, one year": f"/stats/figures.csv?{year}",
        }
        timings = []
        for name, url in scenarios.items():
            assert client.get(url).status_code == 200, name
            latencies, cpu = [], []
            for _ in range(repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                client.get(url)
                latencies.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
            timings.append(Timing(name, latencies, cpu))
    return timings


def _rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_purge(count: int, database_url: str | None = None) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="iblagh-bench-purge-") as tmp,
        _database(_config(Path(tmp)), database_url) as config,
    ):
        engine = make_engine(config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        keyring = _supervisor(session)
        closed = NOW - timedelta(days=40)
        print(f"  writing {count} expired cases with a file each ...", file=sys.stderr, flush=True)
        blobs_dir = config.data_dir / "blobs"
        for start in range(0, count, BATCH):
            size = min(BATCH, count - start)
            cases = [
                {
                    "priority": 3,
                    "category": "fraud",
                    "received": closed - timedelta(days=1),
                    "sla_due_at": closed,
                    "status": "closed",
                    "is_open": False,
                    "close_reason": "duplicate",
                    "triaged_at": closed,
                    "created_at": closed,
                    "updated_at": closed,
                }
                for _ in range(size)
            ]
            session.execute(insert(Case), cases)
            session.commit()
        _add_reports_and_events(session)
        blob_rows = []
        for report_id in session.scalars(select(Report.id)):
            folder = blobs_dir / report_id
            folder.mkdir(parents=True)
            (folder / "body").write_bytes(secrets.token_bytes(200))
            blob_rows.append(
                {
                    "report_id": report_id,
                    "name": "body",
                    "path": f"blobs/{report_id}/body",
                    "size": 200,
                    "sha256": "0" * 64,
                }
            )
            if len(blob_rows) == BATCH:
                session.execute(insert(ReportBlob), blob_rows)
                blob_rows.clear()
        if blob_rows:
            session.execute(insert(ReportBlob), blob_rows)
        summary.rebuild(session.connection())
        session.commit()
        samples: list[float] = [_rss_mib()]
        done = [0]

        def on_case(_retention: Any) -> None:
            done[0] += 1
            if done[0] % max(1, count // 10) == 0:
                samples.append(_rss_mib())
                print(f"  purged {done[0]}", file=sys.stderr, flush=True)

        began = time.perf_counter()
        result = purge_due(session, keyring, config.data_dir, load_rules(), progress=on_case)
        purge_seconds = time.perf_counter() - began
        began = time.perf_counter()
        compact(session)
        compact_seconds = time.perf_counter() - began
        left = session.scalar(select(func.count()).select_from(Case))
        intact = verify_chain(session).intact
        leftover_dirs = sum(1 for _ in blobs_dir.iterdir())
        summary_rows = session.scalar(select(func.count()).select_from(summary.TABLE))
        session.close()
        engine.dispose()
    assert result.cases == count and left == 0 and intact and leftover_dirs == 0
    # The purged cases' counts left the daily summary with them.
    assert summary_rows == 0
    return {
        "cases": count,
        "purge s": purge_seconds,
        "cases/s": count / purge_seconds if purge_seconds else 0.0,
        "rebuild s": compact_seconds,
        "rss start MiB": samples[0],
        "rss max MiB": max(samples),
        "rss end MiB": samples[-1],
        "rss samples MiB": [round(s, 1) for s in samples],
        "audit chain": "intact" if intact else "BROKEN",
    }


def run(cases: int, purge_cases: int, repeat: int, database_url: str | None) -> int:
    rng = random.Random(20261205)
    engine_name = (database_url or "sqlite").split(":", 1)[0]
    print(f"dashboard: {cases} cases on {engine_name} ...", file=sys.stderr, flush=True)
    timings = bench_dashboard(cases, repeat, rng, database_url)
    print()
    print(f"dashboard with {cases} cases on {engine_name} (Flask test client, {repeat} each):")
    columns = [
        ("scenario", "{}"), ("requests", "{}"), ("p50 ms", "{:.1f}"), ("p95 ms", "{:.1f}"),
        ("max ms", "{:.1f}"), ("cpu p95 ms", "{:.1f}"),
    ]  # fmt: skip
    print(_table([timing.row() for timing in timings], columns))
    if purge_cases:
        print(f"purge: {purge_cases} cases on {engine_name} ...", file=sys.stderr, flush=True)
        purge = bench_purge(purge_cases, database_url)
        print()
        print(f"purge of {purge_cases} expired cases on {engine_name} (one report and file each):")
        print(
            f"  {purge['purge s']:.1f} s ({purge['cases/s']:.0f} cases/s), then rebuild "
            f"{purge['rebuild s']:.1f} s; RSS {purge['rss start MiB']:.0f} → "
            f"max {purge['rss max MiB']:.0f} → end {purge['rss end MiB']:.0f} MiB "
            f"(samples every 10%: {purge['rss samples MiB']}); audit chain {purge['audit chain']}"
        )
    return 0
