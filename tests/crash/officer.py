"""The officer's sync and air-gap import killed while they store reports
(docs/reliability.md, "Crash safety").

A public host under gunicorn (never killed here) holds reports filed over HTTP, most by
the browser path (cheap to make by the hundred), some by the form. The `iblagh-officer`
command runs in its own process group and is SIGKILLed after a seeded random delay from
its start; when a run ends by itself first, the public host is topped up and the next run
has more to do. After every run, killed or not:

- every report the officer host lists has all its blobs, whole (size and SHA-256 as
  recorded): nothing half-stored is visible;
- every report gone from the public host (acknowledged, deleted there) is on the officer
  host: nothing acknowledged is lost.

At the end one run finishes, and then: the public host holds nothing; the officer host
holds every report filed exactly once, each opens with the officer's keys; no temporary
blob, unreferenced blob or staging folder remains.

The air-gap import target does the same with ``import`` of an inbound batch on the
offline host; after an import finishes, ``export-outbox`` and ``upload`` carry its
acknowledgements back, and the connected machine exports the next batch.
"""

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nacl.public import PrivateKey
from nacl.signing import VerifyKey

from crypto.encoding import b64decode
from crypto.recipients import RecipientSet, verify_recipient_set
from journalist_app.accounts.login import unlock_for_command
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from tests.crash.figures import Figures
from tests.crash.opened import HalfReport, open_report
from tests.crash.processes import (
    ForkedCommand,
    RestartableGunicorn,
    kill_group,
    officer_command,
    officer_run,
)
from tests.crash.public_host import GENEROUS_LIMITS, stray_files
from tests.crash.reporter import Filed, Reporters, file_once
from tests.support.deployment import OFFICER, PASSPHRASE

COURIER_PASSPHRASE = "the connected machine's own long passphrase"
# A run is killed at a random moment up to this long after its start, at first; then up to
# as long as the last run that ended by itself took.
FIRST_ESTIMATE_SECONDS = 3.0


@dataclass(frozen=True)
class Unit:
    """Both data dirs and the settings of the officer host, after ``keys init``."""

    source_dir: Path
    officer_dir: Path
    officer_env: dict[str, str]


def init_unit(work: Path) -> Unit:
    """``keys init``: the officer host's keys, the public files into the public host's dir."""
    source_dir, officer_dir = work / "source", work / "officer"
    officer_env = {
        "IBLAGH_DATA_DIR": str(officer_dir),
        "IBLAGH_KDF": "fast",
        "IBLAGH_OFFICER_PASSPHRASE": PASSPHRASE,
    }
    officer_run(
        officer_env, work / "officer-commands.log",
        "keys", "init", "--officer", OFFICER, "--public-out", str(source_dir),
    )  # fmt: skip
    return Unit(source_dir, officer_dir, officer_env)


@dataclass
class OfficerSide:
    """A unit: the public host, the officer host, and what was filed on the public host."""

    unit: Unit
    public: RestartableGunicorn
    sync: RestartableGunicorn
    recipients: RecipientSet
    reporters: Reporters
    # Every submission id ever committed on the public host.
    posted: set[str] = field(default_factory=set)
    # Officer reports already checked whole (a committed report's blobs never change).
    checked: set[str] = field(default_factory=set)

    @property
    def source_db(self) -> Path:
        return self.unit.source_dir / "source.db"

    @property
    def officer_db(self) -> Path:
        return self.unit.officer_dir / "officer.sqlite3"

    def pending(self) -> set[str]:
        with sqlite3.connect(self.source_db, timeout=30) as db:
            ids = {row[0] for row in db.execute("SELECT id FROM submissions")}
        db.close()
        return ids

    def top_up(self, count: int, figures: Figures) -> None:
        """File reports until the public host holds at least ``count``."""
        missing = count - len(self.pending())
        for n in range(max(missing, 0)):
            kind = "form-files" if n % 10 == 0 else ("sealed-files", "sealed-text")[n % 2]
            filed = self.reporters.next_filed(kind)
            file_once(lambda: self.public.port, filed, self.recipients, derive=kind == "form-files")
            if filed.outcome != "shown":
                figures.fail(f"report {filed.serial} ({kind}) got {filed.statuses}")
        self.posted |= self.pending()


def set_up(work: Path, seed: int, max_file_bytes: int) -> OfficerSide:
    unit = init_unit(work)
    environ = {"IBLAGH_DATA_DIR": str(unit.source_dir), **GENEROUS_LIMITS}
    public = RestartableGunicorn("source_app:create_app()", environ, work / "public.log", "/report")
    sync = RestartableGunicorn(
        "source_app:create_sync_app()", environ, work / "sync.log", "/sync/v1/submissions"
    )
    public.start()
    sync.start()
    unit.officer_env["IBLAGH_SYNC_URL"] = sync.url
    verify_key = VerifyKey(b64decode((unit.source_dir / "unit-verify-key").read_text().strip()))
    recipients = verify_recipient_set(
        (unit.source_dir / "recipient-set.json").read_bytes(), verify_key
    )
    reporters = Reporters(
        lambda: public.port, recipients, seed, derive=False, max_file_bytes=max_file_bytes
    )
    return OfficerSide(unit, public, sync, recipients, reporters)


def officer_rows(side: OfficerSide) -> dict[str, list[tuple[str, str, int, str]]]:
    """Each officer report with its blobs as recorded: name, path, size, SHA-256."""
    with sqlite3.connect(side.officer_db, timeout=30) as db:
        reports: dict[str, list[tuple[str, str, int, str]]] = {
            row[0]: [] for row in db.execute("SELECT id FROM reports")
        }
        for report_id, name, path, size, sha256 in db.execute(
            "SELECT report_id, name, path, size, sha256 FROM report_blobs"
        ):
            reports[report_id].append((name, path, size, sha256))
    db.close()
    return reports


def check_after_run(side: OfficerSide, figures: Figures, when: str) -> None:
    """Nothing half-stored visible; nothing acknowledged to the public host lost."""
    reports = officer_rows(side)
    for report_id, blobs in reports.items():
        if report_id in side.checked:
            continue
        problem = _blob_problem(side.unit.officer_dir, blobs)
        if problem:
            figures.half += 1
            figures.fail(f"{when}: report {report_id} is visible half-stored: {problem}")
        side.checked.add(report_id)
    lost = side.posted - side.pending() - set(reports)
    for report_id in sorted(lost):
        figures.lost += 1
        figures.fail(f"{when}: {report_id} is gone from the public host and not stored")


def _blob_problem(officer_dir: Path, blobs: list[tuple[str, str, int, str]]) -> str:
    if "body" not in {name for name, *_ in blobs}:
        return "no body"
    for name, path, size, sha256 in blobs:
        try:
            content = (officer_dir / path).read_bytes()
        except FileNotFoundError:
            return f"{name} missing"
        if (len(content), hashlib.sha256(content).hexdigest()) != (size, sha256):
            return f"{name} torn ({len(content)} of {size} bytes)"
    return ""


def check_at_the_end(side: OfficerSide, figures: Figures) -> None:
    """All delivered once, every report opens, nothing left behind on either host."""
    check_after_run(side, figures, "at the end")
    left = side.pending()
    if left:
        figures.fail(f"{len(left)} report(s) still on the public host after a finished run")
    for stray in stray_files(side.unit.source_dir):
        figures.strays += 1
        figures.fail(f"public host: {stray}")
    reports = officer_rows(side)
    officer_dir = side.unit.officer_dir
    recorded = {path for blobs in reports.values() for _n, path, _s, _h in blobs}
    for path in sorted((officer_dir / "blobs").rglob("*")):
        relative = str(path.relative_to(officer_dir))
        if path.is_file() and relative not in recorded:
            figures.strays += 1
            figures.fail(f"officer host: {relative} is a blob no report lists")
    # Staged batch contents (an empty per-process folder may stay until the next command).
    staged = [p for p in (officer_dir / "staging").rglob("*") if not p.is_dir()]
    for path in staged:
        figures.strays += 1
        figures.fail(f"officer host: staged content left behind: {path}")
    report_keys, identity_keys = _officer_keys(side.unit.officer_env)
    serials: Counter[int] = Counter()
    for report_id, blobs in reports.items():
        try:
            contents = {name: (officer_dir / path).read_bytes() for name, path, _s, _h in blobs}
            serials[open_report(contents, report_keys, identity_keys).serial] += 1
        except (HalfReport, OSError) as exc:
            figures.decrypt_failures += 1
            figures.fail(f"report {report_id} does not open on the officer host: {exc}")
    ledger: list[Filed] = side.reporters.ledger
    figures.shown = sum(1 for filed in ledger if filed.outcome == "shown")
    for filed in ledger:
        if filed.outcome == "shown" and serials[filed.serial] == 0:
            figures.lost += 1
            figures.fail(f"report {filed.serial} was filed and never reached the officer host")
    for serial, times in serials.items():
        if times > 1:
            figures.duplicates += 1
            figures.fail(f"report {serial} is stored {times} times on the officer host")


def _officer_keys(environ: dict[str, str]) -> tuple[list[PrivateKey], list[PrivateKey]]:
    config = OfficerConfig.from_env({**os.environ, **environ})
    engine = make_engine(config.database_url)
    try:
        with make_session_factory(engine)() as session:
            keyring = unlock_for_command(
                session, OFFICER, PASSPHRASE, params=config.wrap_params, command="crash check"
            )
            session.commit()
            return keyring.intake_identities(), keyring.identity_section_keys()
    finally:
        engine.dispose()


def _already_imported(log: Path) -> bool:
    """The last run refused its batch as imported already: a killed run had finished it
    (the batch is recorded last of all, journalist_app/airgap/batch_files.py)."""
    last = log.read_text(errors="replace").rstrip().splitlines()[-1]
    return "(ReplayedBatch)" in last and "was already imported" in last


@dataclass
class KillLoop:
    """Run a command again and again, killing it after a seeded random delay."""

    figures: Figures
    seed: int
    say: Callable[[str], None]
    estimate: float = FIRST_ESTIMATE_SECONDS

    def __post_init__(self) -> None:
        self.delays = random.Random(self.seed)

    def run_once(self, start: Callable[[], ForkedCommand], what: str) -> int | None:
        """One run: None if it was killed, else its exit code."""
        delay = self.delays.uniform(0, self.estimate)
        began = time.monotonic()
        process = start()
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            kill_group(process)
        if process.returncode == -signal.SIGKILL:
            self.figures.kills += 1
            self.say(f"{what}: kill {self.figures.kills} {delay:.3f} s after its start")
            return None
        took = time.monotonic() - began
        self.figures.finished_runs += 1
        self.estimate = max(1.0, 1.2 * took)
        self.say(
            f"{what}: ended by itself after {took:.2f} s (kills now up to {self.estimate:.2f} s)"
        )
        return process.returncode


def crash_sync(
    work: Path,
    kills: int,
    seed: int,
    reports: int,
    say: Callable[[str], None] = print,
    *,
    plant: Callable[[], None] | None = None,
) -> Figures:
    """Kill ``iblagh-officer sync`` ``kills`` times; the public host keeps ``reports`` ready.

    With ``plant`` (tests/crash/planted_sync.py: a bug planted in each run) it stops at the
    first breach found, which is all a planted bug needs to show.
    """
    figures = Figures("officer sync", seed)
    began = time.monotonic()
    side = set_up(work, seed, max_file_bytes=256 * 1024)
    loop = KillLoop(figures, seed, say)
    log = work / "sync-runs.log"
    try:

        def start() -> ForkedCommand:
            return officer_command(
                side.unit.officer_env, log, "sync", "--officer", OFFICER, plant=plant
            )

        rounds = 0
        while figures.kills < kills:
            rounds += 1
            if rounds > 4 * kills + 10:
                raise RuntimeError("the sync ended by itself too often to be killed")
            if len(side.pending()) < reports // 2:
                side.top_up(reports, figures)
            if loop.run_once(start, "officer sync") not in (None, 0):
                raise RuntimeError(f"a sync failed: see {log}")
            check_after_run(side, figures, f"after sync run {rounds}")
            if plant is not None and figures.failures:
                return figures
        officer_run(side.unit.officer_env, log, "sync", "--officer", OFFICER)
        check_at_the_end(side, figures)
    finally:
        side.public.stop()
        side.sync.stop()
        figures.seconds = time.monotonic() - began
    return figures


def crash_import(
    work: Path, kills: int, seed: int, reports: int, say: Callable[[str], None] = print
) -> Figures:
    """Kill ``iblagh-officer import`` of inbound batches ``kills`` times."""
    figures = Figures("air-gap import", seed)
    began = time.monotonic()
    side = set_up(work, seed, max_file_bytes=256 * 1024)
    offline = side.unit.officer_env
    connected = {
        "IBLAGH_DATA_DIR": str(work / "connected"),
        "IBLAGH_KDF": "fast",
        "IBLAGH_OFFICER_PASSPHRASE": COURIER_PASSPHRASE,
        "IBLAGH_SYNC_URL": side.sync.url,
    }
    kit = work / "connected-host.kit"
    commands = work / "officer-commands.log"
    officer_run(
        {**offline, "IBLAGH_NEW_OFFICER_PASSPHRASE": COURIER_PASSPHRASE}, commands,
        "connected-host", "export", "--officer", OFFICER, "--out", str(kit),
    )  # fmt: skip
    officer_run(
        connected, commands, "connected-host", "setup", str(kit),
        "--unit-verify-key", str(side.unit.source_dir / "unit-verify-key"),
    )  # fmt: skip
    loop = KillLoop(figures, seed, say)
    log = work / "import-runs.log"
    batches = 0

    def carry_back() -> None:
        outbox = work / f"outbound-{batches}.batch"
        officer_run(offline, commands, "export-outbox", "--officer", OFFICER, "--out", str(outbox))
        officer_run(connected, commands, "upload", "--officer", OFFICER, str(outbox))

    try:
        batch: Path | None = None
        rounds = 0
        while figures.kills < kills:
            rounds += 1
            if rounds > 4 * kills + 10:
                raise RuntimeError("the import ended by itself too often to be killed")
            if batch is None:
                side.top_up(reports, figures)
                batches += 1
                batch = work / f"inbound-{batches}.batch"
                officer_run(
                    connected, commands, "export", "--officer", OFFICER, "--out", str(batch)
                )

            def start(path: Path = batch) -> ForkedCommand:
                return officer_command(offline, log, "import", "--officer", OFFICER, str(path))

            code = loop.run_once(start, "air-gap import")
            check_after_run(side, figures, f"after import run {rounds}")
            if code is not None:
                if code != 0 and not _already_imported(log):
                    raise RuntimeError(f"an import failed: see {log}")
                carry_back()
                check_after_run(side, figures, f"after the acknowledgements of batch {batches}")
                batch = None
        if batch is not None:  # the last batch, imported to its end
            final = officer_command(offline, log, "import", "--officer", OFFICER, str(batch))
            if final.wait(timeout=600) != 0 and not _already_imported(log):
                raise RuntimeError(f"an import failed: see {log}")
            carry_back()
        check_at_the_end(side, figures)
    finally:
        side.public.stop()
        side.sync.stop()
    figures.seconds = time.monotonic() - began
    return figures
