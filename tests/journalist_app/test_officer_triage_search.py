"""Search, related cases and bulk actions; nothing searchable rests readable on disk."""

import base64
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from journalist_app import create_app
from journalist_app.diagnostics.files import hashes
from journalist_app.diagnostics.pdq import pdq_of_bytes
from journalist_app.models import AuditEntry, Case, ReportTriage
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.notes import add_note
from journalist_app.triage.search import classify, search
from journalist_app.triage.workflow import send_reply
from tests.conftest import BOTH_ENGINES
from tests.journalist_app.test_officer_diagnostics import jpeg, scene
from tests.support.engines import stored_bytes
from tests.support.triage import TriageWorld, log_in, make_world

# The queue, search, sync and referral paths run on SQLite and on PostgreSQL.
OFFICER_ENGINES = BOTH_ENGINES

LINK = "https://www.tiktok.com/@bad.actor/video/7311?utm_source=share&lang=fr"
DESCRIPTION_MARKER = "zebracrossingmarker"
NOTE_MARKER = "NOTEPLAINTEXTMARKER"
REPLY_MARKER = "REPLYPLAINTEXTMARKER"


@pytest.fixture
def world(tmp_path, officer_database_url) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def app(world) -> Flask:
    return create_app(world.config)


def _case(world: TriageWorld, report_id: str) -> int:
    world.session.expire_all()
    return world.session.get(ReportTriage, report_id).case_id


def _web_search(client: FlaskClient, query: str) -> str:
    """Search as an officer does: the terms in a POST body, never in the URL."""
    page = client.get("/search?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/search?lang=en", data={"csrf_token": token, "q": query})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _found(world: TriageWorld, query: str, **kwargs: int) -> list[int]:
    return [c.id for c in search(world.session, world.analyst, query, **kwargs).cases]


def test_every_form_of_one_address_finds_the_same_case(world) -> None:
    report = world.add_report({"category": "hate", "urls": [LINK]})
    idn = world.add_report({"category": "fraud", "urls": ["https://пример.рф/страница?fbclid=1"]})
    index_pending(world.session, world.store, world.supervisor)
    case_id, idn_case = _case(world, report), _case(world, idn)

    for form in (
        LINK,
        "hxxps://www.tiktok[.]com/@bad.actor/video/7311?lang=fr",
        "tiktok.com/@bad.actor/video/7311/?lang=fr&utm_campaign=x&fbclid=abc",
        "HTTPS://M.TIKTOK.COM/@bad.actor/video/7311?lang=fr#top",
        "http://tiktok.com:80/@bad.actor/./video/7311?lang=fr",
        "tiktok.com/@bad.actor",  # the profile: same account
    ):
        assert classify(form) == "address", form
        assert _found(world, form) == [case_id], form
    for form in (
        "https://xn--e1afmkfd.xn--p1ai/%D1%81%D1%82%D1%80%D0%B0%D0%BD%D0%B8%D1%86%D0%B0",
        "пример.рф/страница",
        "hxxps://пример[.]рф/страница",
    ):
        assert _found(world, form) == [idn_case], form


def test_handles_platforms_case_numbers_and_words(world) -> None:
    by_link = world.add_report({"category": "hate", "urls": [LINK]})
    by_account = world.add_report(
        {
            "category": "incitement",
            "platform": "TikTok",
            "account": "@Bad.Actor",
            "description": f"Il menace des gens, {DESCRIPTION_MARKER} وَالسَّلَام",
        }
    )
    index_pending(world.session, world.store, world.supervisor)
    one, two = _case(world, by_link), _case(world, by_account)

    assert set(_found(world, "@bad.actor")) == {one, two}
    assert set(_found(world, "platform:tiktok")) == {one, two}
    assert _found(world, f"#{two}") == [two] and _found(world, str(one)) == [one]
    assert _found(world, f"MENACE {DESCRIPTION_MARKER.upper()}") == [two]
    assert _found(world, "والسلام") == [two], "Arabic without its diacritics"
    assert _found(world, "menace absentword") == []


def test_replies_and_notes_are_searchable(world) -> None:
    report = world.add_report({"category": "fraud"})
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    send_reply(world.session, world.analyst, case_id, report, "acknowledgement", "Merci pangolin")
    add_note(world.session, world.analyst, case_id, "Checked with the narwhal desk")
    assert _found(world, "pangolin") == [case_id]
    assert _found(world, "narwhal") == [case_id]


def test_file_hashes_and_pdq_near_duplicates_find_the_case(world) -> None:
    original = scene(31)
    data = jpeg(original)
    report = world.add_report({"category": "other"}, attachments=[("a.jpg", data)])
    world.add_report({"category": "other"}, attachments=[("b.jpg", jpeg(scene(32)))])
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    md5, sha1, sha256 = hashes(data)
    for exact in (md5, sha1, sha256, sha256.upper()):
        assert case_id in _found(world, exact)
    width, height = original.size
    for copy in (
        jpeg(original, 40),  # re-encoded
        jpeg(original.resize((width // 2, height // 2))),  # resized
        jpeg(original.crop((16, 12, width - 16, height - 12))),  # 5% cropped
    ):
        query = pdq_of_bytes(copy)
        assert query is not None
        assert _found(world, f"pdq:{query.hex}") == [case_id]
    far = pdq_of_bytes(jpeg(scene(33)))
    assert _found(world, f"pdq:{far.hex}") == []


def test_related_cases_are_shown_and_picked_for_a_merge(app, world) -> None:
    first = world.add_report({"category": "hate", "urls": [LINK]})
    index_pending(world.session, world.store, world.supervisor)
    first_case = _case(world, first)
    world.session.get(Case, first_case).status = "triaged"  # no longer "untouched"
    world.session.commit()
    second = world.add_report(
        {"category": "hate", "platform": "tiktok", "account": "@bad.actor"},
    )
    index_pending(world.session, world.store, world.supervisor)
    second_case = _case(world, second)
    assert second_case != first_case
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    html = client.get(f"/cases/{first_case}?lang=en").get_data(as_text=True)
    related = html[html.index('id="related-title"') :]
    assert f'value="{second_case}"' in related and "same account" in related
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    response = client.post(
        "/cases/bulk",
        data={
            "csrf_token": token,
            "action": "merge",
            "target": str(first_case),
            "cases": [str(second_case)],
            "back": f"/cases/{first_case}",
        },
    )

    assert response.status_code == 302
    assert _case(world, second) == first_case


def test_bulk_close_as_duplicate_and_mute_from_search(app, world) -> None:
    reports = [world.add_report({"category": "other", "description": "flood"}) for _ in range(3)]
    index_pending(world.session, world.store, world.supervisor)
    cases = [_case(world, r) for r in reports]
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    page = _web_search(client, "flood")
    assert "3 cases found" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    client.post(
        "/cases/bulk",
        data={
            "csrf_token": token,
            "action": "close_duplicate",
            "cases": [str(c) for c in cases[:2]],
        },
    )
    client.post(
        "/cases/bulk", data={"csrf_token": token, "action": "mute", "cases": [str(cases[2])]}
    )

    world.session.expire_all()
    closed = [world.session.get(Case, c) for c in cases[:2]]
    assert [(c.status, c.close_reason) for c in closed] == [("closed", "duplicate")] * 2
    assert world.session.get(Case, cases[2]).priority == 4
    actions = world.session.scalars(select(AuditEntry.action)).all()
    assert "reporter.muted" in actions


@pytest.mark.parametrize(
    "back",
    [
        "/\t/evil.example",  # browsers drop the tab: //evil.example, another site
        "/\n/evil.example",  # no header may hold a newline: it was a 500
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/\u3000/evil.example",
    ],
)
def test_a_bulk_action_returns_only_to_a_page_of_this_host(app, world, back) -> None:
    report = world.add_report({"category": "other", "description": "flood"})
    index_pending(world.session, world.store, world.supervisor)
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    token = re.search(r'name="csrf_token" value="([^"]+)"', _web_search(client, "flood"))
    assert token is not None
    case = str(_case(world, report))

    response = client.post(
        "/cases/bulk",
        data={"csrf_token": token.group(1), "action": "mute", "cases": [case], "back": back},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/search"
    kept = client.post(
        "/cases/bulk",
        data={
            "csrf_token": token.group(1),
            "action": "x",
            "cases": [case],
            "back": f"/cases/{case}",
        },
    )
    assert kept.headers["Location"] == f"/cases/{case}"


def _everything_written(world: TriageWorld) -> bytes:
    return stored_bytes(world.session.get_bind(), world.config.data_dir)  # type: ignore[arg-type]


def test_no_note_reply_or_indexed_word_rests_readable_on_disk(app, world) -> None:
    report = world.add_report(
        {"category": "fraud", "description": f"scam by {DESCRIPTION_MARKER}", "urls": [LINK]}
    )
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    client: FlaskClient = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post(f"/cases/{case_id}/notes", data={"csrf_token": token, "text": NOTE_MARKER})
    send_reply(world.session, world.analyst, case_id, report, "acknowledgement", REPLY_MARKER)
    for word in (DESCRIPTION_MARKER, NOTE_MARKER, REPLY_MARKER):
        found = _web_search(client, word)
        assert f'value="{case_id}"' in found, word
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert NOTE_MARKER in page and REPLY_MARKER in page and DESCRIPTION_MARKER in page
    world.session.close()

    written = _everything_written(world)
    assert len(written) > 5_000
    for marker in (DESCRIPTION_MARKER, NOTE_MARKER, REPLY_MARKER):
        for needle in (
            marker.encode(),
            marker.lower().encode(),
            marker.encode("utf-16-le"),
            marker.encode().hex().encode(),
            base64.b64encode(marker.encode())[:16],
        ):
            assert needle not in written, (marker, needle)
        assert re.search(re.escape(marker).encode(), written, re.I) is None


def test_a_search_is_logged_without_its_terms(app, world) -> None:
    world.add_report({"category": "fraud", "description": "secretterm"})
    index_pending(world.session, world.store, world.supervisor)
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    _web_search(client, "secretterm")
    world.session.expire_all()
    entry = world.session.scalars(select(AuditEntry).where(AuditEntry.action == "search.run")).one()
    assert "secretterm" not in entry.details and '"kind":"words"' in entry.details


def test_search_terms_never_travel_in_a_url(app, world) -> None:
    world.add_report({"category": "fraud", "description": "urlterm"})
    index_pending(world.session, world.store, world.supervisor)
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    form = client.get("/search?lang=en").get_data(as_text=True)
    assert '<form method="post" action="/search"' in form
    # A term in the URL is not searched (it would sit in access logs and history).
    assert "1 case found" not in client.get("/search?q=urlterm&lang=en").get_data(as_text=True)
    assert "1 case found" in _web_search(client, "urlterm")
