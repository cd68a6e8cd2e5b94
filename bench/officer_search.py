"""``python -m bench --officer``, second half: search at scale and PDQ.

1. Search. A fresh database with M cases, one read report each, written directly with
   what ingest would have left (normalised address, blind tokens of ~12 words from a
   Zipf-like vocabulary, a handle and a platform, SHA-256/MD5 and 7 PDQ variants for one
   report in ten), then searches through the Flask test client as a logged-in analyst:
   an address in another form, a handle, two words, a SHA-256, a PDQ within 31 bits,
   a case number. Latency p50/p95/max per kind.
2. PDQ. Pictures hashed per second (decode + PDQ; and with the six stored crops).
3. PDQ recall. A generated set of pictures and transformed copies (re-encoded, resized,
   cropped 5% centred and from one corner, brightened, blurred slightly): a copy is
   found when its nearest stored variant within 31 bits belongs to its original; a false
   match is a copy or an unrelated picture that meets another original within 31 bits.
"""

import hashlib
import io
import itertools
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from bench.officer import (
    FILL_SECONDS,
    NOW,
    Timing,
    _config,
    _dispose,
    settle_postgres,
    write_rows,
)
from crypto.blind_index import blind_token, derive_search_key
from crypto.keys import key_id_hex
from journalist_app import create_app
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.diagnostics.pdq import (
    DEFAULT_MAX_DISTANCE,
    PdqIndex,
    distance,
    pdq_of_bytes,
    pdq_variants,
)
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import (
    AttachmentHashes,
    AttachmentPdq,
    Case,
    Officer,
    Report,
    ReportAttachment,
    ReportTriage,
    ReportUrl,
    SearchToken,
    UnitKey,
)
from journalist_app.triage.urls import normalise_url, url_hash
from journalist_app.views.context import EXTENSION, KEYRING_SESSION_KEY

VOCABULARY = [f"mot{n}" for n in range(20_000)]
BATCH = 20_000
SOURCES = {"w": "body", "h": "account", "a": "account", "p": "platform"}
Row = dict[str, Any]


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A picture with structure (ellipses on a background), different for each seed."""
    rng = random.Random(seed)
    picture = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(picture)
    for _ in range(30):
        x, y = rng.randrange(size[0] - 40), rng.randrange(size[1] - 40)
        w, h = rng.randrange(20, 200), rng.randrange(20, 200)
        draw.ellipse((x, y, x + w, y + h), fill=tuple(rng.randrange(256) for _ in range(3)))
    return picture


def _jpeg(picture: Image.Image, quality: int = 85) -> bytes:
    out = io.BytesIO()
    picture.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- 1. search ---------------------------------------------------------------------------


def _fill(session: Any, count: int, key: bytes, rng: random.Random) -> dict[str, str]:
    """M cases of one report each; returns sample values to search for."""
    pdq_pool = [secrets.token_hex(32) for _ in range(max(1, count // 10))]
    # Cumulative once (choices() with plain weights adds them up on every call).
    cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(VOCABULARY))))
    samples: dict[str, str] = {}
    cases: list[Row] = []
    reports: list[Row] = []
    triage: list[Row] = []
    urls: list[Row] = []
    tokens: list[Row] = []
    files: list[Row] = []
    md5s: list[Row] = []
    pdqs: list[Row] = []

    def flush() -> None:
        for model, rows in (
            (Case, cases), (Report, reports), (ReportTriage, triage), (ReportUrl, urls),
            (SearchToken, tokens), (ReportAttachment, files), (AttachmentHashes, md5s),
            (AttachmentPdq, pdqs),
        ):  # fmt: skip
            if rows:
                write_rows(session, model, rows)
                rows.clear()

    for number in range(1, count + 1):
        report_id = secrets.token_hex(16)
        received = NOW.replace(hour=0)
        cases.append(
            {
                "id": number, "priority": 1 + number % 4, "category": "hate",
                "received": received, "sla_due_at": received, "status": "new",
                "is_open": True, "report_count": 1, "unread_count": 0,
            }
        )  # fmt: skip
        reports.append(
            {
                "id": report_id, "kind": "report", "reporter_id": secrets.token_hex(16),
                "reporter_public_key": secrets.token_bytes(32), "received_hour": received,
            }
        )  # fmt: skip
        triage.append(
            {"report_id": report_id, "case_id": number, "state": "indexed", "category": "hate"}
        )
        link = normalise_url(f"https://www.social.example/user{number % 50_000}/post/{number}")
        assert link is not None
        urls.append({"report_id": report_id, "url_hash": url_hash(link), "normalised": link})
        words = set(rng.choices(VOCABULARY, cum_weights=cumulative, k=12))
        handle = f"user{number % 50_000}"
        terms = [f"w:{w}" for w in words] + [f"h:{handle}", f"a:x:{handle}", "p:x"]
        tokens += [
            {
                "token": blind_token(key, term),
                "report_id": report_id,
                "source": SOURCES[term[0]],
            }
            for term in terms
        ]  # fmt: skip
        if number % 10 == 0:
            content = secrets.token_bytes(64)
            sha256 = hashlib.sha256(content).hexdigest()
            md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
            files.append(
                {"report_id": report_id, "blob_name": "attachment-1", "sha256": sha256,
                 "size": 64, "detected_type": "image/jpeg"}
            )  # fmt: skip
            md5s.append(
                {"report_id": report_id, "blob_name": "attachment-1", "md5": md5, "sha1": "0" * 40}
            )
            base = rng.choice(pdq_pool)
            for variant in range(7):
                value = base if variant == 0 else secrets.token_hex(32)
                pdqs.append(
                    {"report_id": report_id, "blob_name": "attachment-1",
                     "variant": f"v{variant}", "pdq": value, "quality": 100}
                )  # fmt: skip
            samples.setdefault("sha256", sha256)
            samples.setdefault("pdq", base)
        if number == count // 2:
            samples["address"] = f"hxxps://social[.]example/{handle}/post/{number}/?utm_source=x"
            samples["handle"] = f"@{handle}"
            samples["words"] = " ".join(sorted(words)[:2])
            samples["case"] = f"#{number}"
        if len(reports) >= BATCH:
            flush()
            session.commit()
            print(f"    {number} cases ...", file=sys.stderr, flush=True)
    flush()
    session.commit()
    return samples


def _near(pdq: str, bits: int) -> str:
    value = int(pdq, 16)
    for bit in random.Random(7).sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def bench_search(
    count: int, repeat: int, rng: random.Random, database_url: str | None = None
) -> list[Timing]:
    from bench.officer_retention import _database

    with (
        tempfile.TemporaryDirectory(prefix="iblagh-bench-search-") as tmp,
        _database(_config(Path(tmp)), database_url) as config,
    ):
        engine = make_engine(config.database_url)
        create_schema(engine)
        session = make_session_factory(engine)()
        intake = PrivateKey.generate()
        key_id = key_id_hex(bytes(intake.public_key))
        session.add(UnitKey(key_id=key_id, role="intake", public_key=bytes(intake.public_key)))
        officer = Officer(
            username="searcher",
            password_hash=b"-",
            public_key=secrets.token_bytes(32),
            wrapped_private_key=b"{}",
            role="analyst",
        )
        session.add(officer)
        session.commit()
        print(f"  writing {count} cases with their search index ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        samples = _fill(session, count, derive_search_key(bytes(intake)), rng)
        FILL_SECONDS["search"] = time.perf_counter() - began
        session.close()
        settle_postgres(engine)
        engine.dispose()
        app = create_app(config)
        # The bench posts searches without fetching a form first.
        app.config["WTF_CSRF_ENABLED"] = False
        client = app.test_client()
        keyring = UnlockedKeyring(
            username="searcher",
            role="analyst",
            officer_id=officer.id,
            intake_keys={key_id: intake},
        )
        with client.session_transaction() as cookie:
            cookie[KEYRING_SESSION_KEY] = app.extensions[EXTENSION].keyrings.open(keyring)
        queries = {
            "address, defanged with tracking": samples["address"],
            "@handle": samples["handle"],
            "two words": samples["words"],
            "SHA-256 (and PDQ)": samples["sha256"],
            "PDQ within 31 bits": "pdq:" + _near(samples["pdq"], 12),
            "case number": samples["case"],
        }
        # The first PDQ query loads every stored PDQ into memory once.
        client.post("/search", data={"q": queries["PDQ within 31 bits"]})
        timings = []
        for name, query in queries.items():
            latencies, cpu = [], []
            for _ in range(repeat):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = client.post("/search", data={"q": query})
                latencies.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
                html = response.get_data(as_text=True)
                assert response.status_code == 200 and "/cases/" in html, (name, query)
            timings.append(Timing(name, latencies, cpu))
        _dispose(app)
    return timings


# --- 2. and 3. PDQ -----------------------------------------------------------------------

TRANSFORMS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "re-encoded (JPEG 40)": lambda p: Image.open(io.BytesIO(_jpeg(p, 40))),
    "resized to half": lambda p: p.resize((p.width // 2, p.height // 2)),
    "cropped 5% (centred)": lambda p: p.crop(
        (p.width // 40, p.height // 40, p.width - p.width // 40, p.height - p.height // 40)
    ),
    "cropped 5% (one corner)": lambda p: p.crop((0, 0, int(p.width * 0.95), int(p.height * 0.95))),
    "brightened 15%": lambda p: ImageEnhance.Brightness(p).enhance(1.15),
    "slightly blurred": lambda p: p.filter(ImageFilter.GaussianBlur(1.5)),
}


def bench_pdq_rate(pictures: int) -> dict[str, float]:
    data = [_jpeg(scene(50_000 + n)) for n in range(pictures)]
    began = time.perf_counter()
    for item in data:
        pdq_of_bytes(item)
    single = pictures / (time.perf_counter() - began)
    began = time.perf_counter()
    for item in data:
        with Image.open(io.BytesIO(item)) as picture:
            picture.draft("RGB", (256, 256))
            pdq_variants(picture)
    variants = pictures / (time.perf_counter() - began)
    return {"pictures per second": single, "pictures per second, with 6 crops": variants}


def bench_pdq_recall(originals: int, unrelated: int) -> dict[str, Any]:
    keys: list[int] = []
    hashes: list[str] = []
    for n in range(originals):
        with Image.open(io.BytesIO(_jpeg(scene(n)))) as picture:
            for value in pdq_variants(picture).values():
                keys.append(n)
                hashes.append(value.hex)
    index = PdqIndex(keys, hashes)
    per_transform: dict[str, float] = {}
    found = total = false = 0
    for name, transform in TRANSFORMS.items():
        hits = 0
        for n in range(originals):
            query = pdq_of_bytes(_jpeg(transform(scene(n))))
            assert query is not None
            near = index.near(query.hex, DEFAULT_MAX_DISTANCE)
            matched = {key for key, _ in near}
            if n in matched:
                hits += 1
            if matched - {n}:
                false += 1
            total += 1
        per_transform[name] = hits / originals
        found += hits
    unrelated_false = 0
    for n in range(unrelated):
        query = pdq_of_bytes(_jpeg(scene(900_000 + n)))
        assert query is not None
        if index.near(query.hex, DEFAULT_MAX_DISTANCE):
            unrelated_false += 1
    assert distance(hashes[0], hashes[0]) == 0
    return {
        "originals": originals,
        "recall": found / total,
        "false matches (copies)": false / total,
        "false matches (unrelated)": unrelated_false / max(1, unrelated),
        "per transform": per_transform,
    }
