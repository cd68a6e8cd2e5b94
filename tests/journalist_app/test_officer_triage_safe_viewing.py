"""Safe viewing: veiled by default, sharp only by a logged reveal, matches confirmed twice."""

import io
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from PIL import Image
from sqlalchemy import select

from journalist_app import create_app
from journalist_app.diagnostics.hashlists import import_list
from journalist_app.diagnostics.pdq import pdq_of_bytes
from journalist_app.models import AuditEntry, ReportTriage
from journalist_app.triage.ingest import index_pending
from tests.journalist_app.test_officer_diagnostics import jpeg, scene
from tests.support.triage import TriageWorld, log_in, make_world


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def app(world) -> Flask:
    return create_app(world.config)


def _is_grey(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as picture:
        rgb = picture.convert("RGB")
        return all(abs(r - g) <= 3 and abs(g - b) <= 3 for r, g, b in rgb.getdata())


def _setup(app: Flask, world: TriageWorld, data: bytes) -> tuple[object, int, str, str]:
    report = world.add_report({"category": "fraud"}, attachments=[("p.jpg", data)])
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    case_id = world.session.get(ReportTriage, report).case_id
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client, case_id, report, token


def _reveals(world: TriageWorld) -> list[AuditEntry]:
    world.session.expire_all()
    return list(
        world.session.scalars(select(AuditEntry).where(AuditEntry.action == "media.revealed"))
    )


def test_pictures_are_veiled_until_one_is_revealed_and_the_reveal_is_logged(app, world) -> None:
    client, case_id, report, token = _setup(app, world, jpeg(scene(21)))
    base = f"/cases/{case_id}/reports/{report}/files/attachment-1"
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert 'class="thumbnail veiled"' in page and "Show this picture sharp (logged)" in page
    assert "Media you revealed today: 0" in page
    assert _is_grey(client.get(f"{base}/thumbnail").data)
    # Asking for the sharp picture without the logged reveal still gets the veiled one.
    assert _is_grey(client.get(f"{base}/thumbnail?sharp=1").data)
    assert _reveals(world) == []

    response = client.post(f"{base}/reveal", data={"csrf_token": token})

    assert response.status_code == 302
    entries = _reveals(world)
    assert [(e.actor, e.target) for e in entries] == [("omar", f"case:{case_id}")]
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert 'class="thumbnail sharp"' in page and "Media you revealed today: 1" in page
    assert not _is_grey(client.get(f"{base}/thumbnail?sharp=1").data)
    # Another officer's session has revealed nothing.
    other = app.test_client()
    log_in(app, other, world.keyrings["tariq"])
    assert _is_grey(other.get(f"{base}/thumbnail?sharp=1").data)


def test_a_hash_list_match_needs_a_second_confirmation(app, world) -> None:
    data = jpeg(scene(22))
    listed = pdq_of_bytes(data)
    import_list(world.session, "sara", f"pdq,label\n{listed.hex},series 7\n".encode(), "l.csv")
    client, case_id, report, token = _setup(app, world, data)
    base = f"/cases/{case_id}/reports/{report}/files/attachment-1"
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "Known illegal media: series 7" in page

    first = client.post(f"{base}/reveal", data={"csrf_token": token})

    assert first.status_code == 200 and "Yes, show it sharp" in first.get_data(as_text=True)
    assert _reveals(world) == []
    second = client.post(f"{base}/reveal", data={"csrf_token": token, "confirm": "yes"})
    assert second.status_code == 302
    assert next(e.details for e in _reveals(world)).count('"hash_match":true') == 1


def test_the_diagnostics_panel_shows_gps_and_device_and_is_logged(app, world) -> None:
    exif = Image.Exif()
    exif[271], exif[272] = "Canon", "EOS 5D"
    exif[34853] = {1: "N", 2: (33.0, 35.0, 12.5), 3: "W", 4: (7.0, 36.0, 0.0)}
    client, case_id, report, _ = _setup(app, world, jpeg(scene(23), exif=exif))

    html = client.get(
        f"/cases/{case_id}/reports/{report}/files/attachment-1/diagnostics?lang=en"
    ).get_data(as_text=True)

    assert "33.586806, -7.600000" in html and "Canon" in html and "EOS 5D" in html
    assert "may identify a device, a person or a place" in html
    assert "image/jpeg" in html and "640 × 480" in html
    world.session.expire_all()
    assert world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "attachment.diagnosed")
    ).one()


def test_the_audit_page_names_events_in_the_officers_language_filters_and_exports(
    app, world
) -> None:
    client, case_id, report, token = _setup(app, world, jpeg(scene(24)))
    client.post(
        f"/cases/{case_id}/reports/{report}/files/attachment-1/reveal", data={"csrf_token": token}
    )
    supervisor = app.test_client()
    log_in(app, supervisor, world.keyrings["sara"])

    html = supervisor.get(f"/audit?lang=fr&action=media.revealed&officer=omar&case={case_id}")
    page = html.get_data(as_text=True)
    assert "Image affichée nette" in page
    assert page.count("<tr>") == 2, "the header and the one reveal"
    exported = supervisor.get("/audit/export.csv?action=media.revealed").get_data(as_text=True)
    lines = exported.strip().splitlines()
    assert lines[0].startswith("id,time,actor,action") and len(lines) == 2
    assert "omar" in lines[1] and "media.revealed" in lines[1]
    # An analyst sees only their own entries and cannot export.
    assert client.get("/audit/export.csv").status_code == 403


def test_a_hash_list_match_tops_the_queue_with_its_label(app, world) -> None:
    data = jpeg(scene(25))
    world.add_report({"category": "fraud"}, attachments=[("p.jpg", data)])
    world.add_report({"category": "threat_to_life"})
    index_pending(world.session, world.store, world.supervisor)
    listed = pdq_of_bytes(data)
    import_list(world.session, "sara", f"pdq,label\n{listed.hex},series 9\n".encode(), "l.csv")
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])

    html = client.get("/cases?lang=en").get_data(as_text=True)

    rows = html[html.index("<tbody") :]
    assert rows.index("Known illegal media: series 9") < rows.index("Imminent threat to life")


def test_downloading_a_hash_list_match_needs_a_second_confirmation(app, world) -> None:
    data = jpeg(scene(26))
    listed = pdq_of_bytes(data)
    import_list(world.session, "sara", f"pdq,label\n{listed.hex},series 3\n".encode(), "l.csv")
    client, case_id, report, _ = _setup(app, world, data)
    url = f"/cases/{case_id}/reports/{report}/files/attachment-1"

    first = client.get(f"{url}?lang=en")

    assert first.status_code == 200 and "Yes, download it (logged)" in first.get_data(as_text=True)
    world.session.expire_all()
    assert not world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "attachment.downloaded")
    ).all()
    second = client.get(f"{url}?confirm=yes")
    assert second.data == data
    world.session.expire_all()
    assert world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "attachment.downloaded")
    ).one()
