"""One thread per case: reports, follow-ups, the unit's replies and internal notes."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from journalist_app import create_app
from journalist_app.models import AuditEntry, CaseNote, ReplyCopy, ReportTriage
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.notes import add_note
from journalist_app.triage.workflow import send_reply
from tests.conftest import BOTH_ENGINES
from tests.support.triage import TriageWorld, log_in, make_world

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

REPLY_MARKER = "PROMISEDREPLYMARKER"
NOTE_MARKER = "INTERNALNOTEMARKER"


@pytest.fixture
def world(tmp_path, officer_database_url) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def app(world) -> Flask:
    return create_app(world.config)


def _case(world: TriageWorld, report_id: str) -> int:
    world.session.expire_all()
    return world.session.get(ReportTriage, report_id).case_id


def _conversation(app: Flask, world: TriageWorld, username: str, case_id: int) -> str:
    client = app.test_client()
    log_in(app, client, world.keyrings[username])
    html = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    start = html.index('<ol class="thread">')
    return html[start : html.index("</ol>", start)]


def _a_conversation(world: TriageWorld) -> tuple[int, str, str]:
    start = datetime(2026, 11, 28, 9)
    report = world.add_report(
        {"category": "fraud", "language": "fr", "description": "FIRSTREPORTTEXT"},
        received=start,
        identity="Nadia Benali",
        reporter_id="r" * 32,
    )
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    send_reply(
        world.session,
        world.analyst,
        case_id,
        report,
        "more_information",
        f"Merci. {REPLY_MARKER}",
        now=(start + timedelta(hours=2)).replace(tzinfo=UTC),
    )
    followup = world.add_report(
        {"category": "followup", "language": "fr", "description": "FOLLOWUPTEXT"},
        received=start + timedelta(hours=5),
        reporter_id="r" * 32,
        kind="followup",
    )
    index_pending(world.session, world.store, world.supervisor)
    add_note(
        world.session,
        world.analyst,
        case_id,
        f"Checked the account. {NOTE_MARKER}",
        now=start + timedelta(hours=6),
    )
    return case_id, report, followup


def test_the_thread_is_in_time_order_and_another_officer_reads_the_reply(app, world) -> None:
    case_id, report, followup = _a_conversation(world)
    assert _case(world, followup) == case_id, "a follow-up joins its reporter's case"

    # Written by omar (analyst); read by tariq (technical expert), who unlocked his own keys.
    thread = _conversation(app, world, "tariq", case_id)

    order = [
        thread.index("FIRSTREPORTTEXT"),
        thread.index(REPLY_MARKER),
        thread.index("FOLLOWUPTEXT"),
        thread.index(NOTE_MARKER),
    ]
    assert order == sorted(order)
    assert "Reply from the unit to the reporter of report " + report[:8] in thread
    assert '<span class="who">omar</span>' in thread
    # The follow-up is marked as the same reporter, with that reporter's identity state.
    assert f"Same reporter as report {report[:8]}." in thread
    assert "This reporter gave their identity (hidden)." in thread
    assert "Nadia" not in thread
    assert "The reporter chose to stay anonymous." not in thread
    assert "Internal note" in thread


def test_every_reply_and_note_opened_is_audited(app, world) -> None:
    case_id, _, _ = _a_conversation(world)
    _conversation(app, world, "tariq", case_id)
    world.session.expire_all()
    actions = [
        (entry.actor, entry.action)
        for entry in world.session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert ("tariq", "reply.opened") in actions and ("tariq", "note.opened") in actions
    assert ("omar", "note.added") in actions


def test_notes_and_reply_copies_rest_sealed(app, world) -> None:
    _a_conversation(world)
    world.session.expire_all()
    copy = world.session.scalars(select(ReplyCopy)).one()
    note = world.session.scalars(select(CaseNote)).one()
    assert REPLY_MARKER.encode() not in copy.envelope
    assert NOTE_MARKER.encode() not in note.envelope
    assert copy.author == "omar" and note.author == "omar"


def test_an_officer_adds_a_note_from_the_case_page(app, world) -> None:
    report = world.add_report({"category": "hate"})
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    client = app.test_client()
    log_in(app, client, world.keyrings["tariq"])
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    response = client.post(
        f"/cases/{case_id}/notes", data={"csrf_token": token, "text": "<b>bold</b> note"}
    )

    assert response.status_code == 302
    html = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "&lt;b&gt;bold&lt;/b&gt; note" in html and "Internal note added." in html
    empty = client.post(f"/cases/{case_id}/notes", data={"csrf_token": token, "text": "  "})
    assert empty.status_code == 302
    assert len(world.session.scalars(select(CaseNote)).all()) == 1
