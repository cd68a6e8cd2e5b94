"""Retention, legal hold and purge, by time travel, on SQLite and on PostgreSQL.

After a purge nothing of the case may remain: no row in any table (every row of every
table is read back and searched for the case's markers) and, on SQLite, no byte in the
data dir — database file included — carries them. PostgreSQL's own files live outside
the data dir (the database administrator's, docs/retention.md): there the row search is
what is checked.
"""

import hashlib
import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from journalist_app import clock
from journalist_app.audit import verify_chain
from journalist_app.errors import PermissionDenied
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.models import AuditEntry, Base, Case, Report, ReportTriage
from journalist_app.retention.holds import HoldReasonMissing, set_hold
from journalist_app.retention.purge import PURGED, PurgeRefused, compact, purge_case, purge_due
from journalist_app.retention.rules import RetentionRulesError, load_rules, parse_rules
from journalist_app.retention.schedule import retention_of
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.notes import add_note
from journalist_app.triage.workflow import change_status
from tests.support.triage import SUPERVISOR, TriageWorld, make_world

T0 = datetime(2026, 12, 1, 10, 0)
RULES = load_rules()


class Clock:
    """The officer host's one clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def travel(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


@pytest.fixture
def now(monkeypatch) -> Clock:
    moved = Clock(T0)
    monkeypatch.setattr(clock, "source", moved)
    return moved


@pytest.fixture(params=["sqlite", "postgres"])
def world(request, tmp_path: Path, now: Clock) -> Iterator[TriageWorld]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    yield from make_world(tmp_path, url)


class Markers:
    """What only one case holds: its address, its file's SHA-256, its envelopes' bytes."""

    def __init__(self) -> None:
        token = secrets.token_hex(8)
        self.url = f"https://purge-marker-{token}.example/evidence"
        self.normalised = f"purge-marker-{token}.example/evidence"
        self.picture = b"PURGE-MARKER-FILE-" + token.encode() + secrets.token_bytes(64)
        self.file_sha256 = hashlib.sha256(self.picture).hexdigest()
        self.needles: list[bytes] = [
            self.normalised.encode(),
            self.file_sha256.encode(),
            hashlib.sha256(self.normalised.encode()).hexdigest().encode(),
        ]


def _case_of(world: TriageWorld, report_id: str) -> int:
    triage = world.session.get(ReportTriage, report_id)
    assert triage is not None
    return triage.case_id


def _marked_case(world: TriageWorld, category: str = "fraud") -> tuple[int, Markers, str]:
    markers = Markers()
    report = world.add_report(
        {"category": category, "urls": [markers.url], "description": "see the file"},
        received=T0 - timedelta(hours=5),
        attachments=[("proof.bin", markers.picture)],
        identity="Reporter Name",
    )
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case_of(world, report)
    for path in (world.config.data_dir / "blobs" / report).iterdir():
        markers.needles.append(path.read_bytes()[-48:])
    add_note(world.session, world.supervisor, case_id, "an internal note")
    return case_id, markers, report


def _raw_scan(folder: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name}: {needle[:24]!r}" for needle in needles if needle in data]
    return found


def _rows_with(world: TriageWorld, needles: list[bytes]) -> list[str]:
    """Every row of every table, read back and searched (bytes and text)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for row in world.session.execute(select(table)):
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode()
                found += [f"{table.name}: {n[:24]!r}" for n in needles if n in raw]
    return found


def test_a_due_case_is_destroyed_and_leaves_only_a_tombstone(world, now) -> None:
    case_id, markers, report = _marked_case(world)
    kept_id, kept_markers, _ = _marked_case(world)
    change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
    assert _rows_with(world, markers.needles), "the markers were not where the test looks"
    if world.session.get_bind().dialect.name == "sqlite":
        assert len(_raw_scan(world.config.data_dir, markers.needles)) >= 4

    now.travel(days=29)
    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 0
    now.travel(days=2)
    result = purge_due(world.session, world.supervisor, world.config.data_dir, RULES)
    compact(world.session)

    assert (result.cases, result.reports, result.blobs) == (1, 1, 3)
    world.session.expire_all()
    assert world.session.get(Case, case_id) is None
    assert world.session.get(Case, kept_id) is not None
    assert _rows_with(world, markers.needles) == []
    assert _rows_with(world, kept_markers.needles[:2]) != []
    assert not (world.config.data_dir / "blobs" / report).exists()
    if world.session.get_bind().dialect.name == "sqlite":
        assert _raw_scan(world.config.data_dir, markers.needles) == []
    tombstone = world.session.scalar(select(AuditEntry).where(AuditEntry.action == PURGED))
    assert tombstone is not None and tombstone.target == f"case:{case_id}"
    for field in ('"category":"fraud"', '"reason":"duplicate"', '"destroyed_sha256":"'):
        assert field in tombstone.details
    assert verify_chain(world.session).intact


def test_a_legal_hold_blocks_purge_and_is_audited(world, now) -> None:
    held_id, markers, _ = _marked_case(world, category="terrorism")
    change_status(world.session, world.supervisor, held_id, "closed", "not_illegal")
    now.travel(days=400)

    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 0
    with pytest.raises(PurgeRefused):
        purge_case(world.session, world.supervisor, world.config.data_dir, RULES, held_id)
    with pytest.raises(HoldReasonMissing):
        set_hold(world.session, world.supervisor, held_id, False, "short")
    with pytest.raises(PermissionDenied):
        set_hold(world.session, world.analyst, held_id, False, "an analyst may not decide this")

    set_hold(world.session, world.supervisor, held_id, False, "prosecutor confirmed no proceedings")
    result = purge_case(world.session, world.supervisor, world.config.data_dir, RULES, held_id)

    assert result.cases == 1
    actions = list(world.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions[-2:] == ["retention.hold_lifted", PURGED]
    assert _rows_with(world, markers.needles) == []
    assert verify_chain(world.session).intact


def test_a_hold_set_on_any_case_keeps_it(world, now) -> None:
    case_id, _, _ = _marked_case(world)
    change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
    set_hold(world.session, world.supervisor, case_id, True, "requested by the prosecutor's office")
    now.travel(days=60)
    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 0
    retention = retention_of(world.session, [world.session.get(Case, case_id)], RULES)[case_id]
    assert retention.held and retention.purge_on is None
    assert retention.decision is not None and retention.decision.by == SUPERVISOR


def test_material_added_after_closure_restarts_the_clock(world, now) -> None:
    case_id, _, report = _marked_case(world)
    change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
    now.travel(days=20)
    original = world.session.get(Report, report)
    assert original is not None
    reporter_id = original.reporter_id
    followup = world.add_report(
        {"category": "followup", "description": "more"}, reporter_id=reporter_id, kind="followup"
    )
    # A follow-up to a closed case is its own case (docs/triage.md); put it in this one
    # as an officer merging it would, so the case holds material newer than its closure.
    triage = world.session.get(ReportTriage, followup)
    assert triage is not None
    triage.case_id = case_id
    world.session.commit()

    retention = retention_of(world.session, [world.session.get(Case, case_id)], RULES)[case_id]
    assert retention.purge_on == now.now + timedelta(days=30)
    now.travel(days=11)
    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 0
    now.travel(days=20)
    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 1


def test_open_cases_are_never_due(world, now) -> None:
    case_id, _, _ = _marked_case(world)
    now.travel(days=5000)
    retention = retention_of(world.session, [world.session.get(Case, case_id)], RULES)[case_id]
    assert retention.purge_on is None
    assert purge_due(world.session, world.supervisor, world.config.data_dir, RULES).cases == 0


def test_a_crash_before_commit_puts_the_files_back(world, now, monkeypatch) -> None:
    case_id, _, report = _marked_case(world)
    change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
    now.travel(days=31)
    from journalist_app import audit

    def fail(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(audit, "record", fail)
    with pytest.raises(RuntimeError):
        purge_due(world.session, world.supervisor, world.config.data_dir, RULES)
    monkeypatch.undo()
    monkeypatch.setattr(clock, "source", now)
    assert (world.config.data_dir / "blobs" / report / "body").exists()
    assert world.session.get(Case, case_id) is not None


def test_only_a_supervisor_purges(world, now) -> None:
    keyring: UnlockedKeyring = world.analyst
    with pytest.raises(PermissionDenied):
        purge_due(world.session, keyring, world.config.data_dir, RULES)


def test_the_rules_file_is_checked() -> None:
    with pytest.raises(RetentionRulesError):
        parse_rules({"outcomes": {"closed:spam": 30}})
    with pytest.raises(RetentionRulesError):
        parse_rules({"outcomes": {"referred": 0}})
    rules = parse_rules({"outcomes": {"referred": 10}, "categories": {"hate": "hold", "fraud": 5}})
    assert rules.rule_for("referred", None, "fraud").days == 5
    assert rules.rule_for("referred", None, "hate").held_by_default
    assert rules.rule_for("new", None, "fraud").days is None
    assert RULES.rule_for("closed", "duplicate", "fraud").days == 30
    assert RULES.rule_for("closed", "handled", "child_abuse").held_by_default


def test_the_sqlite_file_is_rewritten_without_free_pages(world, now) -> None:
    if world.session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL keeps its own files")
    case_id, _, _ = _marked_case(world)
    change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
    now.travel(days=31)
    purge_due(world.session, world.supervisor, world.config.data_dir, RULES)
    compact(world.session)
    assert world.session.execute(text("PRAGMA freelist_count")).scalar() == 0
    assert os.path.getsize(world.config.data_dir / "officer.sqlite3") > 0


def test_the_case_page_shows_the_purge_date_and_the_hold_form(
    tmp_path, now, officer_database_url: str
) -> None:
    import re

    from journalist_app import create_app
    from tests.support.triage import log_in, make_world

    for world in make_world(tmp_path, officer_database_url or None):
        case_id, _, _ = _marked_case(world)
        change_status(world.session, world.supervisor, case_id, "closed", "duplicate")
        app = create_app(world.config)
        supervisor = app.test_client()
        log_in(app, supervisor, world.supervisor)

        page = supervisor.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
        assert "Will be purged on December 31, 2026" in page
        assert "Put on legal hold" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        form = {"csrf_token": token.group(1), "held": "1", "reason": "kept for a prosecutor"}
        assert supervisor.post(f"/cases/{case_id}/hold", data=form).status_code == 302
        page = supervisor.get(f"/cases/{case_id}").get_data(as_text=True)
        assert "On legal hold" in page and "kept for a prosecutor" in page

        analyst = app.test_client()
        log_in(app, analyst, world.analyst)
        page = analyst.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
        assert "On legal hold" in page and "Lift the legal hold" not in page
        assert analyst.post(f"/cases/{case_id}/hold", data=form).status_code in (400, 403)


def test_a_merged_record_goes_with_the_case_it_was_merged_into(world, now) -> None:
    from journalist_app.triage.grouping import merge_cases

    target, target_markers, _ = _marked_case(world)
    source, source_markers, source_report = _marked_case(world)
    merge_cases(world.session, world.supervisor, target, source, now.now)
    change_status(world.session, world.supervisor, target, "closed", "duplicate")
    now.travel(days=31)

    result = purge_due(world.session, world.supervisor, world.config.data_dir, RULES)

    assert (result.cases, result.reports) == (1, 2)
    world.session.expire_all()
    assert world.session.get(Case, source) is None
    assert _rows_with(world, target_markers.needles + source_markers.needles) == []
    assert not (world.config.data_dir / "blobs" / source_report).exists()
    tombstone = world.session.scalar(select(AuditEntry).where(AuditEntry.action == PURGED))
    assert tombstone is not None and f'"merged_records":[{source}]' in tombstone.details
    assert verify_chain(world.session).intact
