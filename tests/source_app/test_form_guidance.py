"""What the form tells a reporter before they send (issue 10, item 10): child sexual abuse
is reported by its link only, photos carry location and device data, file names are sent
unless the reporter asks for numbered names, which the host then gives (server path)."""

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from source_app.attachments import numbered_file_name
from tests.conftest import ReporterActions, UnitKeys
from tests.support.pulled import OfficerView

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 5000
PDF = b"%PDF-1.7\n" + b"stream " * 100


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> OfficerView:
    return OfficerView(source_data_dir, unit_keys)


@pytest.mark.parametrize(
    ("lang", "link_only", "location"),
    [
        ("en", "give the link only", "location and device data"),
        ("fr", "donnez uniquement le lien", "données de localisation et d’appareil"),
        ("es", "indique solo el enlace", "datos de ubicación y del dispositivo"),
        ("ar", "قدّموا الرابط فقط", "بيانات الموقع والجهاز"),
    ],
)
def test_the_form_warns_about_abuse_images_photo_data_and_file_names(
    client: FlaskClient, lang: str, link_only: str, location: str
) -> None:
    page = client.get(f"/report?lang={lang}").get_data(as_text=True)
    # Beside the category, tied to its radio button, and again by the file input.
    guidance = re.search(
        r'<p class="hint guidance" id="category-child_abuse-guidance">(.*?)</p>', page
    )
    assert guidance and link_only.lower() in guidance.group(1).lower()
    assert 'aria-describedby="category-child_abuse-hint category-child_abuse-guidance"' in page
    attachments = page[page.index('id="attachments-field"') : page.index('name="attachments"')]
    assert link_only.lower() in attachments.lower()
    assert location in attachments
    # The numbered-names box comes before the file input: the form sends it first.
    assert 'name="rename_files"' in attachments
    # The stripping option exists for the browser path only, hidden without a script.
    assert re.search(r'<div class="choice" id="strip-metadata-option" hidden', attachments)


def test_the_follow_up_form_offers_numbered_names_too(client: FlaskClient) -> None:
    page = client.get("/followup?lang=en").get_data(as_text=True)
    assert page.index('name="rename_files"') < page.index('name="attachments"')
    assert "give the link only" in page.lower()


@pytest.mark.parametrize(
    ("index", "raw", "expected"),
    [
        (1, "IMG_20261205_Tanger.JPG", "attachment-1.jpg"),
        (2, "C:\\Users\\amina\\Desktop\\témoin.pdf", "attachment-2.pdf"),
        (3, "no extension", "attachment-3"),
        (4, "archive.tar.gz", "attachment-4.gz"),
        (5, "weird.ext-with-dash", "attachment-5"),
        (6, None, "attachment-6"),
    ],
)
def test_a_numbered_name_keeps_only_the_extension(
    index: int, raw: str | None, expected: str
) -> None:
    assert numbered_file_name(index, raw) == expected


def test_files_sent_with_numbered_names_reach_the_unit_without_their_names(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    data = reporter.report_form(rename_files="y")
    data["attachments"] = [
        (io.BytesIO(JPEG), "Amina Benali at home in Fès.jpg"),
        (io.BytesIO(PDF), "statement of Amina.PDF"),
    ]
    response = reporter.client.post("/report", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    submission = officer.only()
    first, second = submission.blobs["attachment-1"], submission.blobs["attachment-2"]
    assert (first.metadata.name, second.metadata.name) == ("attachment-1.jpg", "attachment-2.pdf")
    assert first.content == JPEG
    records = submission.blobs["body"].report()["attachments"]
    assert [r["name"] for r in records] == ["attachment-1.jpg", "attachment-2.pdf"]
    assert "Amina" not in repr(records)


def test_without_the_box_the_names_are_sent(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    reporter.report(files=[(JPEG, "Tanger.jpg")])
    assert officer.only().blobs["attachment-1"].metadata.name == "Tanger.jpg"


def test_a_follow_up_can_send_numbered_names(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    code = reporter.report()
    data = {
        "csrf_token": reporter.csrf_token("/followup"),
        "code": code,
        "message": "One more photo.",
        "rename_files": "y",
        "attachments": [(io.BytesIO(JPEG), "my street.jpeg")],
    }
    response = reporter.client.post("/followup", data=data, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    followup = [s for s in officer.pending() if "attachment-1" in s.blobs][-1]
    assert followup.blobs["attachment-1"].metadata.name == "attachment-1.jpeg"
