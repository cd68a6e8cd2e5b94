import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import select

from journalist_app import create_app
from journalist_app.audit import verify_chain
from journalist_app.clock import utc_now
from journalist_app.models import (
    AuditEntry,
    Case,
    CaseEvent,
    IdentityReveal,
    Reply,
    ReportTriage,
)
from journalist_app.triage.categories import sla_for
from journalist_app.triage.ingest import index_pending
from tests.support.triage import TriageWorld, log_in, make_world

HOSTILE = {
    "category": "incitement",
    "language": "ar",
    "urls": ["javascript:alert(1)", "https://evil.example/\u202egpj.exe", "https://x.example/<b>"],
    "description": '<script>alert("x")</script><img src=x onerror=alert(2)> سلام \u202eRLO',
    "account": "<b>@hater</b>",
}


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def app(world) -> Flask:
    return create_app(world.config)


def client_as(app: Flask, world: TriageWorld, username: str) -> FlaskClient:
    client = app.test_client()
    log_in(app, client, world.keyrings[username])
    client.get("/cases?lang=en")
    return client


def _case(world: TriageWorld, report_id: str) -> int:
    world.session.expire_all()
    return world.session.get(ReportTriage, report_id).case_id


def _csrf(html: str) -> str:
    match = re.search(r'name="[a-z]*-?csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', html
    )
    assert match, "no CSRF token"
    return match.group(1)


def test_the_queue_lists_urgent_cases_first_with_their_deadline(app, world) -> None:
    now = utc_now().replace(minute=0, second=0, microsecond=0)
    fraud = world.add_report({"category": "fraud"}, received=now - timedelta(hours=30))
    threat = world.add_report({"category": "threat_to_life"}, received=now - timedelta(hours=3))
    index_pending(world.session, world.store, world.supervisor)
    client = client_as(app, world, "omar")

    html = client.get("/cases").get_data(as_text=True)

    assert html.index(f"/cases/{_case(world, threat)}") < html.index(
        f"/cases/{_case(world, fraud)}"
    )
    assert "Imminent threat to life" in html and "Overdue" in html
    assert "1 new case is past its deadline." in html
    assert "<script" not in html


def test_the_queue_pages_by_key_and_keeps_its_filters(app, world) -> None:
    received = datetime(2026, 11, 1)
    for number in range(120):
        priority = 1 + number % 4
        world.session.add(
            Case(
                priority=priority,
                category="hate" if number % 3 else "fraud",
                received=received + timedelta(hours=number % 7),
                sla_due_at=received + sla_for(priority),
                status="closed" if number % 2 else "new",
                is_open=not number % 2,
                report_count=1,
            )
        )
    world.session.commit()
    client = client_as(app, world, "omar")
    seen: list[str] = []
    url = "/cases?category=hate&status=all"
    for _ in range(5):
        html = client.get(url).get_data(as_text=True)
        seen += re.findall(r'href="/cases/(\d+)"', html)
        found = re.search(r'rel="next" href="([^"]+)"', html)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
        assert "category=hate" in url and "status=all" in url and "after=" in url
    assert len(seen) == 80 and len(set(seen)) == 80
    assert 'rel="prev"' in html


def test_a_case_page_shows_hostile_content_as_inert_text(app, world) -> None:
    report = world.add_report(HOSTILE)
    client = client_as(app, world, "omar")

    html = client.get(f"/cases/{_case(world, report)}").get_data(as_text=True)

    # The one script is the app's own copy button file; the reporter's is text.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/copy.js" defer>']
    assert "<img src=x" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "[U+202E RLO]" in html and "\u202e" not in html
    assert 'value="javascript:alert(1)"' in html and "Not a web address (javascript)" in html
    assert 'value="https://evil.example/%E2%80%AEgpj.exe"' in html
    assert "readonly" in html and "Open these addresses outside this host only" in html
    hrefs = re.findall(r'(?:href|src|action)="([^"]*)"', html)
    assert all(h.startswith(("/", "?")) for h in hrefs), hrefs
    assert world.session.get(ReportTriage, report).state == "indexed", "indexed on first open"


def test_changing_the_status_from_the_page_queues_the_reporters_reply(app, world) -> None:
    report = world.add_report({"category": "fraud", "language": "fr"})
    index_pending(world.session, world.store, world.supervisor)
    case_id = _case(world, report)
    client = client_as(app, world, "omar")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)

    response = client.post(
        f"/cases/{case_id}/status",
        data={"status-csrf_token": _csrf(page), "status-status": "triaged", "status-reason": ""},
    )

    assert response.status_code == 302
    assert "The case is now: Triaged." in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert [r["status"] for r in world.replies_to(report)] == ["under_review"]
    refused = client.post(
        f"/cases/{case_id}/status",
        data={"status-csrf_token": _csrf(page), "status-status": "new", "status-reason": ""},
    )
    assert refused.status_code == 302
    assert "not allowed" in client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_a_technical_expert_sees_no_workflow_and_cannot_post_one(app, world) -> None:
    report = world.add_report({"category": "fraud"}, identity="Someone")
    client = client_as(app, world, "tariq")
    case_id = _case(world, report)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Change the status" not in page and "Reveal the identity" not in page
    response = client.post(
        f"/cases/{case_id}/status",
        data={"status-csrf_token": _csrf(page), "status-status": "triaged"},
    )
    assert response.status_code == 403


def test_only_a_supervisor_reveals_an_identity_and_the_case_shows_it(app, world) -> None:
    report = world.add_report({"category": "threat_to_life"}, identity="Nadia Benali")
    case_id = _case(world, report)
    analyst = client_as(app, world, "omar")
    page = analyst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Nadia" not in page and "stays hidden" in page and "Reveal the identity" not in page
    reason = "Imminent threat: the prosecutor needs to contact the reporter today."
    refused = analyst.post(
        f"/cases/{case_id}/reports/{report}/identity",
        data={"reveal-csrf_token": _csrf(page), "reveal-reason": reason},
    )
    assert refused.status_code == 403

    supervisor = client_as(app, world, "sara")
    page = supervisor.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Nadia" not in page and "Reveal the identity" in page
    short = supervisor.post(
        f"/cases/{case_id}/reports/{report}/identity",
        data={"reveal-csrf_token": _csrf(page), "reveal-reason": "needed"},
    )
    assert short.status_code == 302 and world.session.query(IdentityReveal).count() == 0
    shown = supervisor.post(
        f"/cases/{case_id}/reports/{report}/identity",
        data={"reveal-csrf_token": _csrf(page), "reveal-reason": reason},
    )

    assert shown.status_code == 200 and "Nadia Benali" in shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    after = analyst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Nadia" not in after and "sara revealed the identity" in after and reason in after


def test_a_reply_is_offered_in_the_reporters_language_and_queued(app, world) -> None:
    report = world.add_report({"category": "fraud", "language": "ar"})
    case_id = _case(world, report)
    client = client_as(app, world, "omar")

    page = client.get(f"/cases/{case_id}/reports/{report}/reply?template=acknowledgement")
    html = page.get_data(as_text=True)
    assert 'lang="ar"' in html and 'dir="rtl"' in html and "شكرًا على تبليغك" in html
    message = "شكرًا على تبليغك. سنعود إليك قريبًا."
    response = client.post(
        f"/cases/{case_id}/reports/{report}/reply",
        data={"csrf_token": _csrf(html), "template": "acknowledgement", "message": message},
    )

    assert response.status_code == 302
    [reply] = world.replies_to(report)
    assert reply["message"] == message
    assert world.session.query(Reply).count() == 1


def _png_with_exif() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x013B] = "owner of the phone"
    Image.new("RGB", (800, 600), (10, 120, 10)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_attachments_download_as_files_and_pictures_as_redrawn_thumbnails(app, world) -> None:
    picture = _png_with_exif()
    program = b"MZ\x90\x00 pretending to be a picture"
    report = world.add_report(
        {"category": "fraud"},
        attachments=[("photo of \u202egpj.exe", picture), ("cute-cat.jpg", program)],
    )
    client = client_as(app, world, "omar")
    case_id = _case(world, report)
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    base = f"/cases/{case_id}/reports/{report}/files"
    assert f'src="{base}/attachment-1/thumbnail"' in html
    assert f'src="{base}/attachment-2/thumbnail"' not in html

    thumb = client.get(f"{base}/attachment-1/thumbnail")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data != picture and b"owner of the phone" not in thumb.data
    assert max(Image.open(io.BytesIO(thumb.data)).size) <= 320
    assert client.get(f"{base}/attachment-2/thumbnail").status_code == 422

    download = client.get(f"{base}/attachment-2")
    assert download.data == program
    assert download.mimetype == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith('attachment; filename="cute-cat.bin"')
    image = client.get(f"{base}/attachment-1")
    assert image.mimetype == "image/jpeg" and image.data == picture
    assert 'filename="photo of gpj.jpg"' in image.headers["Content-Disposition"]
    assert client.get(f"{base}/body").status_code == 404
    assert client.get(f"/cases/{case_id}/reports/{'0' * 32}/files/attachment-1").status_code == 404


def test_pictures_of_child_abuse_cases_load_only_on_request(app, world) -> None:
    report = world.add_report(
        {"category": "child_abuse"}, attachments=[("x.jpg", _png_with_exif())]
    )
    client = client_as(app, world, "omar")
    case_id = _case(world, report)
    assert "/thumbnail" not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "/thumbnail" in client.get(f"/cases/{case_id}?pictures=1").get_data(as_text=True)


def test_a_thumbnail_decrypts_its_attachment_so_it_is_audited_like_a_download(app, world) -> None:
    picture = _png_with_exif()
    report = world.add_report(
        {"category": "fraud"}, attachments=[("photo.jpg", picture), ("notes.txt", b"plain")]
    )
    client = client_as(app, world, "omar")
    case_id = _case(world, report)
    base = f"/cases/{case_id}/reports/{report}/files"

    def logged(action: str) -> list[AuditEntry]:
        world.session.expire_all()
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(world.session.scalars(query))

    assert client.get(f"{base}/attachment-1/thumbnail").status_code == 200
    # Not a picture: refused, but it was decrypted to find out, so it is logged too.
    assert client.get(f"{base}/attachment-2/thumbnail").status_code == 422
    assert client.get(f"{base}/attachment-9/thumbnail").status_code == 404

    entries = logged("attachment.thumbnail")
    assert [(e.actor, e.target) for e in entries] == [("omar", f"case:{case_id}")] * 2
    assert [json.loads(e.details) for e in entries] == [
        {"report": report, "file": "attachment-1"},
        {"report": report, "file": "attachment-2"},
    ]
    assert b"photo" not in b"".join(e.details.encode() for e in entries), "no file name"
    assert verify_chain(world.session).intact
    # Like a download, it is an audit entry; unlike one, the case history is not filled
    # with a line per page view.
    client.get(f"{base}/attachment-1")
    assert len(logged("attachment.downloaded")) == 1
    world.session.expire_all()
    history = world.session.scalars(select(CaseEvent.action).where(CaseEvent.case_id == case_id))
    assert "attachment.thumbnail" not in list(history)


def test_merge_and_split_from_the_page(app, world) -> None:
    first = world.add_report({"category": "fraud", "urls": ["https://a.example/"]})
    second = world.add_report({"category": "fraud", "urls": ["https://a.example/"]})
    other = world.add_report({"category": "hate"})
    index_pending(world.session, world.store, world.supervisor)
    case_id, other_case = _case(world, first), _case(world, other)
    client = client_as(app, world, "omar")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)

    client.post(
        f"/cases/{case_id}/merge",
        data={"merge-csrf_token": _csrf(page), "merge-other_case": str(other_case)},
    )
    assert _case(world, other) == case_id
    split = client.post(
        f"/cases/{case_id}/split",
        data={"split-csrf_token": _csrf(page), "split-reports": [second, other]},
    )
    new_case = _case(world, second)
    assert new_case != case_id and _case(world, other) == new_case
    assert split.headers["Location"].endswith(f"/cases/{new_case}")
    world.session.expire_all()
    assert world.session.get(Case, case_id).report_count == 1
    merged_page = client.get(f"/cases/{other_case}").get_data(as_text=True)
    assert "merged into another case" in merged_page


def test_the_officer_screens_work_in_arabic_right_to_left(app, world) -> None:
    report = world.add_report({"category": "fraud"})
    index_pending(world.session, world.store, world.supervisor)
    client = client_as(app, world, "omar")
    case_id = _case(world, report)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    client.post(
        f"/cases/{case_id}/territory",
        data={"territory-csrf_token": _csrf(page), "territory-territory": "02.411"},
    )
    html = client.get("/cases?lang=ar").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "وجدة-أنجاد" in html and "الشرق" in html
    french = client.get("/cases?lang=fr").get_data(as_text=True)
    assert "Oujda-Angad" in french


def test_queue_and_case_pages_need_their_permission(app, world) -> None:
    report = world.add_report({"category": "fraud"})
    admin = world.add_officer("adil", "admin")
    client = app.test_client()
    log_in(app, client, admin)
    assert client.get("/cases").status_code == 403
    assert client.get(f"/cases/{_case(world, report)}").status_code == 403
    anonymous = app.test_client()
    assert anonymous.get("/cases").headers["Location"].endswith("/login")


def test_opening_an_unread_report_indexes_it_and_shows_its_case_page(app, world) -> None:
    report = world.add_report({"category": "hate", "urls": ["https://a.example/x"]})
    client = client_as(app, world, "omar")
    html = client.get(f"/reports/{report}?lang=en").get_data(as_text=True)
    assert world.session.get(ReportTriage, report).state == "indexed"
    assert f"<h1>Case {_case(world, report)}</h1>" in html
    assert f'id="report-{report}"' in html
