"""The public host killed while it takes reports (docs/reliability.md, "Crash safety").

gunicorn runs the public site on a real SQLite file and a local blob folder; four
reporter threads file reports of every kind without pause (the form with and without
files, the browser path with and without files). The harness waits for the new host's
first answer, then a seeded random delay, then SIGKILLs master and workers, runs
``iblagh-source recover`` and starts it again on the same port.

Afterwards the unit's side of the real sync API (gunicorn's sync listener, the officer
host's own client) lists and fetches everything, and the unit's keys open it: every
report whose code was shown is there exactly once and its code derives the reporter key
sealed in its body; no listed report lacks a part or fails to open; the blob folder holds
exactly what the database references, with no unfinished write.
"""

import io
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from crypto.encoding import b64encode
from crypto.keys import generate_box_key, generate_signing_key
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from crypto.recipients import RecipientSet, make_recipient_set, sign_recipient_set
from crypto.sync_api import ListedSubmission
from journalist_app.errors import SyncError
from journalist_app.sync.client import SyncClient
from tests.crash.figures import Figures
from tests.crash.opened import HalfReport, OpenedReport, open_report
from tests.crash.processes import RestartableGunicorn, recover_public_host
from tests.crash.reporter import Filed, Reporters

# The tests' limits (tests/conftest.py): reporters here file hundreds of reports a minute.
# A hundred kills feed the host well over 120 reports with files a minute: at the default
# the 429s left uploads unclaimed until IBLAGH_MAX_OPEN_UPLOADS answered 503 (make soak).
GENEROUS_LIMITS = {
    "IBLAGH_SUBMISSIONS_PER_MINUTE": "1000000",
    "IBLAGH_FILE_SUBMISSIONS_PER_MINUTE": "1000000",
    "IBLAGH_CODE_ATTEMPTS_PER_MINUTE": "1000000",
    "IBLAGH_CODE_ATTEMPTS_PER_SESSION": "1000000",
}
# The longest wait, after the host's first answer, before it is killed.
MAX_DELAY_SECONDS = 1.0
READY_SECONDS = 60.0


class UnitKeys:
    """The unit's keys, made here; the public host gets only the signed recipient set."""

    def __init__(self) -> None:
        self.intake: PrivateKey = generate_box_key()
        self.recovery: PrivateKey = generate_box_key()
        self.identity: PrivateKey = generate_box_key()
        self.signing: SigningKey = generate_signing_key()
        self.sync: SigningKey = generate_signing_key()
        self.recipient_set: RecipientSet = make_recipient_set(
            1,
            "2026-12-01T00:00:00Z",
            [self.intake.public_key],
            self.recovery.public_key,
            [self.sync.verify_key],
            identity_keys=[self.identity.public_key],
        )

    def install(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        signed = sign_recipient_set(self.recipient_set, self.signing)
        (data_dir / "recipient-set.json").write_bytes(signed)
        (data_dir / "unit-verify-key").write_text(b64encode(bytes(self.signing.verify_key)))


def stray_files(data_dir: Path) -> list[str]:
    """Unfinished writes no open upload holds, blobs no row references, and open uploads
    whose file lacks bytes the host acknowledged, in the public host's blob folder."""
    root = data_dir / "blobs"
    with sqlite3.connect(data_dir / "source.db", timeout=30) as db:
        referenced = {row[0] for row in db.execute("SELECT blob_key FROM submission_blobs")}
        referenced |= {row[0] for row in db.execute("SELECT blob_key FROM replies")}
        uploads = list(
            db.execute("SELECT store_handle, received_bytes, claimed FROM upload_sessions")
        )
    db.close()
    held = {handle for handle, _received, _claimed in uploads}
    strays = [f"unfinished {p.name}" for p in (root / ".incoming").iterdir() if p.name not in held]
    for path in root.glob("[0-9a-f][0-9a-f]/*"):
        if path.name not in referenced:
            strays.append(f"unreferenced {path.name}")
    for handle, received, claimed in uploads:
        path = root / ".incoming" / handle
        size = path.stat().st_size if path.exists() else -1
        if not claimed and size < received:
            strays.append(f"open upload {handle} holds {size} of the {received} bytes acknowledged")
    return strays


def pull_everything(sync_url: str, keys: UnitKeys, figures: Figures) -> list[OpenedReport]:
    """Every pending submission through the real sync API, opened with the unit's keys."""
    client = SyncClient(sync_url, keys.sync, run_deadline=3600)
    opened: list[OpenedReport] = []
    after: str | None = None
    while True:
        listing = client.listing(limit=500, after=after)
        for refused in listing.refused:
            figures.half += 1
            figures.fail(f"the listing refused {refused.submission_id}: {refused.detail}")
        for submission in listing.submissions:
            try:
                opened.append(_open_listed(client, submission, keys))
            except HalfReport as exc:
                figures.half += 1
                figures.fail(f"half report {submission.id}: {exc}")
        if len(listing.entries) < 500:
            return opened
        last = listing.entries[-1]
        after = last.id if isinstance(last, ListedSubmission) else last.submission_id


def _open_listed(client: SyncClient, submission: ListedSubmission, keys: UnitKeys) -> OpenedReport:
    blobs = {}
    for blob in submission.blobs:
        sink = io.BytesIO()
        try:
            client.fetch_blob(submission.id, blob, sink)
        except SyncError as exc:  # missing, torn, or not as listed
            raise HalfReport(f"{blob.name} cannot be fetched whole: {exc}") from exc
        blobs[blob.name] = sink.getvalue()
    report = open_report(blobs, [keys.intake], [keys.identity])
    if report.reporter_key != submission.reporter_public_key:
        raise HalfReport("the listed reporter key is not the one sealed in the body")
    return report


def check_ledger(ledger: list[Filed], opened: list[OpenedReport], figures: Figures) -> None:
    """Each report shown (or committed) is there once, and its code opens it."""
    count = Counter(report.serial for report in opened)
    by_serial = {report.serial: report for report in opened}
    for serial, times in count.items():
        if times > 1:
            figures.duplicates += 1
            figures.fail(f"report {serial} is listed {times} times")
        if not 0 <= serial < len(ledger):
            figures.fail(f"report {serial} was never filed")
    for filed in ledger:
        if filed.outcome == "unexpected":
            answers = [status for status in filed.statuses if status]  # 0: no answer
            figures.fail(f"report {filed.serial} ({filed.kind}) got {answers}")
    shown = [f for f in ledger if f.outcome == "shown"]
    figures.shown = len(shown)
    figures.committed_unshown = sum(
        1 for f in ledger if f.outcome != "shown" and f.serial in by_serial
    )
    for filed in ledger:
        if filed.outcome == "committed" and filed.serial not in by_serial:
            figures.lost += 1
            figures.fail(f"report {filed.serial} answered 409 but is not there")
    for filed in shown:
        if filed.serial not in by_serial:
            figures.lost += 1
            figures.fail(f"report {filed.serial} ({filed.kind}) was shown {filed.code} and lost")
    with ThreadPoolExecutor(max_workers=2) as pool:  # argon2id releases the GIL
        keys = pool.map(_reporter_key, shown)
        for filed, key in zip(shown, keys, strict=True):
            report = by_serial.get(filed.serial)
            if report is not None and report.reporter_key != key:
                figures.decrypt_failures += 1
                figures.fail(f"the code shown for report {filed.serial} does not open it")
    for kind in ("form-text", "form-files", "sealed-text", "sealed-files"):
        if not any(f.kind == kind for f in shown):
            figures.fail(f"no {kind} report was shown: the run proves nothing for that path")


def _reporter_key(filed: Filed) -> bytes:
    """The reporter key the code shown derives (argon2id), as the status page derives it."""
    if filed.kind.startswith("sealed"):
        return filed.reporter_key  # derived from this very code before the report was sent
    return bytes(derive_reporter_secrets(ReceiptCode.parse(filed.code)).private_key.public_key)


def crash_public_host(
    work: Path, kills: int, seed: int, say: Callable[[str], None] = print
) -> Figures:
    """Kill the public host ``kills`` times while reports arrive; check what remains."""
    figures = Figures("public host", seed)
    began = time.monotonic()
    keys = UnitKeys()
    data_dir = work / "source"
    keys.install(data_dir)
    environ = {"IBLAGH_DATA_DIR": str(data_dir), **GENEROUS_LIMITS}
    host = RestartableGunicorn("source_app:create_app()", environ, work / "public.log", "/report")
    delays = random.Random(seed)
    host.start()
    reporters = Reporters(lambda: host.port, keys.recipient_set, seed, large_file_share=0.2)
    reporters.start()
    try:
        for kill in range(1, kills + 1):
            answered = reporters.answered()
            deadline = time.monotonic() + READY_SECONDS
            while reporters.answered() == answered and time.monotonic() < deadline:
                time.sleep(0.005)
            if reporters.answered() == answered:
                raise RuntimeError("the public host answered no report after its start")
            delay = delays.uniform(0, MAX_DELAY_SECONDS)
            say(f"public host: kill {kill}/{kills} {delay:.3f} s after its first answer")
            time.sleep(delay)
            host.kill()
            figures.kills += 1
            figures.leftovers_removed += recover_public_host(environ)
            for stray in stray_files(data_dir):
                figures.strays += 1
                figures.fail(f"after recover, kill {kill}: {stray}")
            host.start()
    finally:
        say("public host: the reporters finish what they started")
        reporters.stop()
        host.stop()
    # A clean stop leaves nothing behind either, without any recovery.
    for stray in stray_files(data_dir):
        figures.strays += 1
        figures.fail(f"after a clean stop: {stray}")
    sync = RestartableGunicorn(
        "source_app:create_sync_app()", environ, work / "sync.log", "/sync/v1/submissions"
    )
    sync.start()
    try:
        say(f"public host: pulling and opening what {len(reporters.ledger)} reports left")
        opened = pull_everything(sync.url, keys, figures)
    finally:
        sync.stop()
    say(f"public host: checking {len(opened)} reports against the codes shown")
    check_ledger(reporters.ledger, opened, figures)
    figures.seconds = time.monotonic() - began
    return figures
