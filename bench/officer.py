"""``python -m bench --officer``: the officer host's ingest rate and triage queue latency.

1. Ingest. N sealed reports (realistic mix: categories, 1-3 addresses from a shared
   pool so that some group, a ~1 KB description, some identities, some pictures) are
   stored through ``journalist_app.sync.pull.store_submission`` (size and SHA-256 checked
   against the listing, fsync, row + queue entry), then read by
   ``journalist_app.triage.ingest.index_pending`` (decrypt body and attachments in
   memory, index category, addresses and file hashes, group). Reports per minute for
   each step and for both.
2. Queue. A fresh SQLite database with M cases written directly (realistic shares of
   status, priority, territory, assignee and age), then queue pages requested through
   the Flask test client as a logged-in analyst: first page, deep pages by cursor, and
   each filter. Latency per request, p50/p95/max per scenario and overall.
"""

import hashlib
import io
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from PIL import Image
from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.keys import key_id_hex
from crypto.sync_api import ListedBlob, ListedSubmission
from journalist_app import create_app
from journalist_app.config import OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.errors import BlobMismatch
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import Base, Case, Officer, UnitKey
from journalist_app.sync.blob_store import BlobWriter
from journalist_app.sync.blob_store_s3 import open_blob_store
from journalist_app.sync.pull import BlobSource, store_submission
from journalist_app.triage import statuses
from journalist_app.triage.categories import CATEGORIES, category_priority, sla_for
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.queue import refresh_planner_statistics
from journalist_app.triage.territories import territories
from journalist_app.views.context import EXTENSION, KEYRING_SESSION_KEY

# Shares seen by hotlines of this kind (fraud and hate dominate, urgent ones are few).
CATEGORY_WEIGHTS = {
    "child_abuse": 4, "terrorism": 5, "threat_to_life": 2, "sextortion": 8, "incitement": 10,
    "hate": 18, "fraud": 30, "illicit_trade": 8, "endangering": 5, "other": 10,
}  # fmt: skip
# Status by age: the last two days are mostly open; older cases mostly referred or closed.
STATUS_WEIGHTS_BY_AGE = (
    (timedelta(days=2), {"new": 45, "triaged": 30, "under_investigation": 15, "closed": 10}),
    (timedelta(days=30), {
        "new": 1, "triaged": 8, "under_investigation": 20, "referred": 30, "closed": 41,
    }),
    (timedelta.max, {"under_investigation": 2, "referred": 6, "closed": 92}),
)  # fmt: skip
DESCRIPTION = (
    "هذا الحساب ينشر مقاطع تمجد العنف ويدعو إلى الانضمام. "
    "Ce compte publie chaque jour des vidéos et des messages d'appel à la haine. "
) * 8
OFFICERS = 20
# The bench's "now": queue pages compute deadlines against the real clock, so cases are
# dated relative to it.
NOW = datetime.now(UTC).replace(tzinfo=None, minute=0, second=0, microsecond=0)
# A week two months back, for the date filter.
WEEK = ((NOW - timedelta(days=60)).date(), (NOW - timedelta(days=54)).date())
# Seconds spent writing the cases of each measure (a PostgreSQL fill at 1M takes minutes).
FILL_SECONDS: dict[str, float] = {}


@dataclass
class Timing:
    """Wall-clock latency of each request, and the CPU time this process spent on it
    (the part other programs on a shared machine cannot inflate)."""

    name: str
    latencies: list[float]
    cpu: list[float]

    def row(self) -> dict[str, Any]:
        return _row(self.name, self.latencies, self.cpu)


def _row(name: str, latencies: list[float], cpu: list[float]) -> dict[str, Any]:
    ordered, cpu_ordered = sorted(latencies), sorted(cpu)
    return {
        "scenario": name,
        "requests": len(ordered),
        "p50 ms": statistics.median(ordered) * 1000,
        "p95 ms": _percentile(ordered, 0.95) * 1000,
        "max ms": ordered[-1] * 1000,
        "cpu p95 ms": _percentile(cpu_ordered, 0.95) * 1000,
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    rank = max(1, -(-int(fraction * len(ordered) * 1000) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


# --- 1. ingest -------------------------------------------------------------------------------


@dataclass
class Sealed:
    listed: ListedSubmission
    blobs: dict[str, bytes]


def _picture(rng: random.Random) -> bytes:
    image = Image.effect_noise((640, 480), rng.uniform(20, 80)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _seal_reports(count: int, intake: PrivateKey, rng: random.Random) -> list[Sealed]:
    # About a quarter of reports name content others reported too (a viral post).
    viral = [f"https://social.example/viral/{n}" for n in range(max(1, count // 25))]
    pictures = [_picture(rng) for _ in range(max(1, count // 20))]
    names, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    recipients = [intake.public_key]
    sealed = []
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for index in range(count):
        body = {
            "v": 1,
            "category": rng.choices(names, weights)[0],
            "urls": [
                rng.choice(viral) if rng.random() < 0.25 else f"https://social.example/{index}/{n}"
                for n in range(rng.choice((1, 1, 2, 3)))
            ],
            "description": DESCRIPTION[: rng.randint(200, 1000)],
            "language": rng.choice(("ar", "ar", "fr", "en", "es")),
        }
        blobs = {
            "body": seal_bytes(
                json.dumps(body, ensure_ascii=False).encode(),
                recipients,
                EnvelopeMetadata(kind="report", content_type="application/json"),
            )
        }
        if rng.random() < 0.2:
            blobs["identity"] = seal_bytes(
                b'{"v": 1, "full_name": "X"}', recipients, EnvelopeMetadata(kind="identity")
            )
        if rng.random() < 0.15:
            blobs["attachment-1"] = seal_bytes(
                rng.choice(pictures), recipients, EnvelopeMetadata(kind="attachment", name="a.jpg")
            )
        listed = ListedSubmission(
            id=secrets.token_hex(16),
            kind="report",
            reporter_id=secrets.token_hex(16),
            reporter_public_key=bytes(PrivateKey.generate().public_key),
            received_hour=(start + timedelta(hours=index // 20)).replace(tzinfo=None),
            blobs=tuple(
                ListedBlob(name, len(data), hashlib.sha256(data).hexdigest())
                for name, data in blobs.items()
            ),
        )
        sealed.append(Sealed(listed, blobs))
    return sealed


def _source(item: Sealed) -> BlobSource:
    """What the sync client does with a fetched blob: check it against the listing."""

    def fetch(blob: ListedBlob, dst: BlobWriter) -> None:
        data = item.blobs[blob.name]
        if len(data) != blob.size or hashlib.sha256(data).hexdigest() != blob.sha256:
            raise BlobMismatch("not as listed")
        dst.write(data)

    return fetch


def bench_ingest(count: int, rng: random.Random) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="iblagh-bench-officer-") as tmp:
        config = _config(Path(tmp))
        engine = make_engine(config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        intake = PrivateKey.generate()
        keyring = UnlockedKeyring(
            username="bench",
            intake_keys={key_id_hex(bytes(intake.public_key)): intake},
            role="supervisor",
        )
        # The unit's intake key on record: ingest writes the blind search tokens with it.
        session.add(
            UnitKey(
                key_id=key_id_hex(bytes(intake.public_key)),
                role="intake",
                public_key=bytes(intake.public_key),
            )
        )
        session.commit()
        print(f"  sealing {count} reports ...", file=sys.stderr, flush=True)
        sealed = _seal_reports(count, intake, rng)
        store = open_blob_store(config)
        print("  storing (verify + fsync + queue) ...", file=sys.stderr, flush=True)
        began, began_cpu = time.perf_counter(), time.process_time()
        for item in sealed:
            store_submission(session, store, item.listed, _source(item))
        stored, stored_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        print("  indexing (decrypt + index + group) ...", file=sys.stderr, flush=True)
        began, began_cpu = time.perf_counter(), time.process_time()
        result = index_pending(session, store, keyring, limit=count)
        indexed, indexed_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        cases = session.query(Case).filter(Case.status != statuses.MERGED).count()
        session.close()
        engine.dispose()
    return {
        "reports": count,
        "indexed": result.indexed,
        "cases": cases,
        "store per minute": count / stored * 60,
        "index per minute": count / indexed * 60,
        "ingest per minute": count / (stored + indexed) * 60,
        "store s": stored,
        "index s": indexed,
        "store cpu s": stored_cpu,
        "index cpu s": indexed_cpu,
    }


# --- 2. queue --------------------------------------------------------------------------------


def _fill_cases(session: Session, count: int, rng: random.Random) -> list[int]:
    officer_ids = []
    for n in range(OFFICERS):
        officer = Officer(
            username=f"officer{n:02d}",
            password_hash=b"-",
            public_key=secrets.token_bytes(32),
            wrapped_private_key=b"{}",
            role="analyst",
        )
        session.add(officer)
        session.flush()
        officer_ids.append(officer.id)
    session.commit()
    table = territories()
    codes = list(table)
    code_weights = [rng.uniform(0.2, 5) for _ in codes]
    names, weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    batch: list[dict[str, Any]] = []
    for _ in range(count):
        category = rng.choices(names, weights)[0]
        priority = category_priority(category)
        # Ages spread over a year, more of them recent.
        age = timedelta(hours=int(rng.expovariate(1 / 2000)) % (24 * 365))
        received = NOW - age
        shares = next(weights for limit, weights in STATUS_WEIGHTS_BY_AGE if age < limit)
        status = rng.choices(list(shares), list(shares.values()))[0]
        territory = rng.choices(codes, code_weights)[0] if rng.random() < 0.7 else None
        batch.append(
            {
                "priority": priority,
                "category": category,
                "received": received,
                "sla_due_at": received + sla_for(priority),
                "status": status,
                "is_open": status in statuses.OPEN_STATUSES,
                "close_reason": rng.choice(("handled", "not_illegal", "duplicate"))
                if status == "closed"
                else None,
                "territory_code": territory,
                "region_code": table[territory].region_code if territory else None,
                "assignee_id": rng.choice(officer_ids)
                if status != "new" and rng.random() < 0.6
                else None,
                "report_count": 1 if rng.random() < 0.8 else rng.randint(2, 50),
                "unread_count": 0,
                "triaged_at": None if status == "new" else received + timedelta(hours=1),
                "created_at": received,
                "updated_at": received,
            }
        )
        if len(batch) == 10_000:
            write_rows(session, Case, batch)
            batch.clear()
    if batch:
        write_rows(session, Case, batch)
    session.commit()
    return officer_ids


def settle_postgres(engine: Any) -> None:
    """On PostgreSQL, the statistics and visibility map a running host has (autovacuum):
    rows just written by COPY are not all-visible, so every count reads the table too."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        # The bench's own schema only (the URL's search_path): the models' tables.
        tables = ", ".join(Base.metadata.tables)
        connection.execute(text(f"VACUUM ANALYZE {tables}"))


def write_rows(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """An INSERT of many rows; on PostgreSQL a COPY FROM STDIN (1M cases in minutes, not
    tens of minutes), with the models' Python-side defaults filled in as INSERT would."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table = model.__table__
    given = list(rows[0])
    defaults = {}
    for column in table.columns:
        default = column.default
        if column.name in given or column.primary_key or default is None:
            continue
        if default.is_scalar:
            defaults[column.name] = default.arg
        elif default.is_callable:
            defaults[column.name] = default.arg(None)
    columns = [*given, *defaults]
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([*(row[name] for name in given), *defaults.values()])


def bench_queue(
    count: int, repeat: int, rng: random.Random, database_url: str | None = None
) -> list[Timing]:
    from bench.officer_retention import _database

    with (
        tempfile.TemporaryDirectory(prefix="iblagh-bench-queue-") as tmp,
        _database(_config(Path(tmp)), database_url) as config,
    ):
        engine = make_engine(config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        print(f"  writing {count} cases ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        officer_ids = _fill_cases(session, count, rng)
        FILL_SECONDS["queue"] = time.perf_counter() - began
        # What every sync does after indexing (cases written directly here skip it).
        refresh_planner_statistics(session)
        session.close()
        settle_postgres(engine)
        engine.dispose()
        app = create_app(config)
        client = app.test_client()
        keyring = UnlockedKeyring(username="officer00", role="analyst", officer_id=officer_ids[0])
        with client.session_transaction() as cookie:
            cookie[KEYRING_SESSION_KEY] = app.extensions[EXTENSION].keyrings.open(keyring)
        assert client.get("/cases").status_code == 200, "not logged in"
        scenarios = {
            "first page (open cases)": ["/cases"],
            "all statuses": ["/cases?status=all"],
            "category: terrorism, all": ["/cases?status=all&category=terrorism"],
            "territory: one region": ["/cases?status=all&territory=region:06"],
            "territory: one province": ["/cases?territory=06.141"],
            "assigned to me": ["/cases?assignee=me&status=all"],
            "received in one week": [f"/cases?status=all&from={WEEK[0]}&to={WEEK[1]}"],
            "closed": ["/cases?status=closed"],
            "overdue only": ["/cases?overdue=1&status=new"],
        }
        timings = [_time(client, name, urls, repeat) for name, urls in scenarios.items()]
        timings.append(_time_deep(client, repeat))
        _dispose(app)
    return timings


def _dispose(app: Any) -> None:
    """Close the app's pooled connections, so that a PostgreSQL schema can be dropped."""
    app.extensions[EXTENSION].session_factory.kw["bind"].dispose()


def _time(client: Any, name: str, urls: list[str], repeat: int) -> Timing:
    client.get(urls[0])  # warm: templates compiled, pages cached by SQLite
    latencies, cpu = [], []
    for index in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(urls[index % len(urls)])
        latencies.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        assert response.status_code == 200, (name, response.status_code)
    return Timing(name, latencies, cpu)


def _time_deep(client: Any, pages: int) -> Timing:
    """Follow "next" from the first page of all statuses: page N costs what page 1 costs."""
    latencies, cpu = [], []
    url = "/cases?status=all"
    for _ in range(pages):
        began, began_cpu = time.perf_counter(), time.process_time()
        html = client.get(url).get_data(as_text=True)
        latencies.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        marker = 'rel="next" href="'
        if marker not in html:
            break
        url = html.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return Timing(f"next, next, ... ({len(latencies)} pages deep)", latencies, cpu)


def _config(data_dir: Path) -> OfficerConfig:
    # The fast passphrase hash is test-only (IBLAGH_TESTING): the bench times the host, not argon2.
    return OfficerConfig.from_env(
        {"IBLAGH_DATA_DIR": str(data_dir), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}
    )


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    cells = [[name for name, _ in columns]]
    cells += [[fmt.format(row[name]) for name, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(
            (c.ljust(w) if i == 0 else c.rjust(w))
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    )


def run(
    reports: int, cases: int, repeat: int, json_path: Path | None, database_url: str | None = None
) -> int:
    """Both measures, printed as tables; returns the exit status.

    With ``database_url`` (PostgreSQL) only the queue and search run there, each on a fresh
    schema dropped after: ingest and PDQ are measured on SQLite by the plain run."""
    if database_url:
        return _run_on(database_url, cases, repeat, json_path)
    rng = random.Random(20261128)
    print(f"ingest: {reports} reports ...", file=sys.stderr, flush=True)
    ingest = bench_ingest(reports, rng)
    print(f"queue: {cases} cases ...", file=sys.stderr, flush=True)
    timings = bench_queue(cases, repeat, rng)
    rows = [timing.row() for timing in timings]
    overall = _row(
        "all requests",
        [t for timing in timings for t in timing.latencies],
        [t for timing in timings for t in timing.cpu],
    )
    print()
    print(
        f"ingest of {reports} reports ({ingest['indexed']} indexed into {ingest['cases']} cases):"
    )
    for label, key, seconds, cpu in (
        ("store (verify + fsync + queue)", "store per minute", "store s", "store cpu s"),
        ("index (decrypt + index + group)", "index per minute", "index s", "index cpu s"),
    ):
        print(
            f"  {label:32s} {ingest[key]:>7.0f} reports/min"
            f"  ({ingest[seconds]:.1f} s, of which {ingest[cpu]:.1f} s CPU)"
        )
    print(f"  {'both':32s} {ingest['ingest per minute']:>7.0f} reports/min")
    print()
    print(f"queue pages with {cases} cases (Flask test client, {repeat} requests each):")
    columns = [
        ("scenario", "{}"), ("requests", "{}"), ("p50 ms", "{:.1f}"), ("p95 ms", "{:.1f}"),
        ("max ms", "{:.1f}"), ("cpu p95 ms", "{:.1f}"),
    ]  # fmt: skip
    print(_table([*rows, overall], columns))
    from bench.officer_search import bench_pdq_rate, bench_pdq_recall, bench_search

    print(f"search: {cases} cases ...", file=sys.stderr, flush=True)
    searches = [timing.row() for timing in bench_search(cases, repeat, rng)]
    print()
    print(f"search with {cases} cases (Flask test client, {repeat} requests each):")
    print(_table(searches, columns))
    print("PDQ ...", file=sys.stderr, flush=True)
    rate = bench_pdq_rate(100)
    recall = bench_pdq_recall(200, 200)
    print()
    print("PDQ (640×480 JPEG, decode included):")
    for label, value in rate.items():
        print(f"  {label:40s} {value:>7.1f}")
    print(
        f"PDQ recall on {recall['originals']} generated pictures x {len(recall['per transform'])}"
        f" transforms, distance <= 31: recall {recall['recall']:.3f}, false matches"
        f" {recall['false matches (copies)']:.3f} (copies),"
        f" {recall['false matches (unrelated)']:.3f} (unrelated pictures)"
    )
    for name, value in recall["per transform"].items():
        print(f"  {name:40s} {value:.3f}")
    if json_path:
        json_path.write_text(
            json.dumps(
                {
                    "ingest": ingest,
                    "queue": [*rows, overall],
                    "cases": cases,
                    "search": searches,
                    "pdq": rate,
                    "pdq recall": recall,
                },
                indent=2,
            )
            + "\n"
        )
    return 0


QUEUE_COLUMNS = [
    ("scenario", "{}"), ("requests", "{}"), ("p50 ms", "{:.1f}"), ("p95 ms", "{:.1f}"),
    ("max ms", "{:.1f}"), ("cpu p95 ms", "{:.1f}"),
]  # fmt: skip


def _run_on(database_url: str, cases: int, repeat: int, json_path: Path | None) -> int:
    from bench.officer_search import bench_search

    rng = random.Random(20261128)
    engine_name = database_url.split(":", 1)[0]
    print(f"queue: {cases} cases on {engine_name} ...", file=sys.stderr, flush=True)
    queue = [timing.row() for timing in bench_queue(cases, repeat, rng, database_url)]
    print(f"search: {cases} cases on {engine_name} ...", file=sys.stderr, flush=True)
    search = [timing.row() for timing in bench_search(cases, repeat, rng, database_url)]
    for title, rows, fill in (("queue pages", queue, "queue"), ("search", search, "search")):
        print()
        print(
            f"{title} with {cases} cases on {engine_name} (Flask test client, {repeat} requests"
            f" each; cases written in {FILL_SECONDS[fill]:.0f} s):"
        )
        print(_table(rows, QUEUE_COLUMNS))
    worst = max(row["p95 ms"] for row in [*queue, *search])
    print(f"\nworst p95: {worst:.1f} ms (target < 100 ms)")
    if json_path:
        report = {"engine": engine_name, "cases": cases, "queue": queue, "search": search,
                  "fill seconds": FILL_SECONDS}  # fmt: skip
        json_path.write_text(json.dumps(report, indent=2) + "\n")
    return 0


# Make the category table's ids and the weights agree (a renamed id would skew the mix).
assert set(CATEGORY_WEIGHTS) == {category.id for category in CATEGORIES}
