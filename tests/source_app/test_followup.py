"""After the report: the receipt file, the status page, answers and more files."""

import json
import secrets
from pathlib import Path

import pytest
from flask import Flask
from nacl.public import PublicKey

from crypto.contents import FOLLOWUP_CATEGORY, ReplyContent
from crypto.encoding import b64decode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from tests.conftest import ReporterActions, UnitKeys
from tests.support.pulled import OfficerView


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> OfficerView:
    return OfficerView(source_data_dir, unit_keys)


def reply(officer: OfficerView, reporter_id: str, public_key: bytes, **content: str) -> None:
    envelope = seal_bytes(
        ReplyContent(sent_at="2026-11-28T18:04:00Z", **content).to_json(),  # type: ignore[arg-type]
        [PublicKey(public_key)],
        EnvelopeMetadata(kind="reply", content_type="application/json"),
    )
    reply_id = secrets.token_hex(16)
    for path, headers in (
        (f"/sync/v1/reporters/{reporter_id}/replies/{reply_id}", {}),
        (f"/sync/v1/reporters/{reporter_id}/replies", {"X-Iblagh-Reply-Id": reply_id}),
    ):
        response = officer.client.request("POST", path, envelope, headers=headers)
        if response.status_code in (200, 201):
            return
    pytest.fail(f"the sync API refused the reply: {response.status_code}")


def test_the_receipt_page_offers_a_download_and_a_printable_card(
    reporter: ReporterActions,
) -> None:
    data = reporter.report_form()
    page = reporter.client.post("/report?lang=en", data=data).get_data(as_text=True)
    assert 'action="/receipt.txt' in page
    assert 'class="receipt-card"' in page
    assert "A channel posts propaganda" not in page


def test_the_receipt_file_holds_the_code_and_nothing_of_the_report(
    reporter: ReporterActions,
) -> None:
    code = reporter.report(description="SECRET-DESCRIPTION")
    data = {"csrf_token": reporter.csrf_token(), "code": code}
    response = reporter.client.post("/receipt.txt?lang=fr", data=data)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert code in text
    assert "SECRET" not in text and "t.me" not in text


@pytest.mark.parametrize("code", ["", "12345", "<script>", "1" * 200])
def test_the_receipt_file_refuses_what_is_not_a_code(reporter: ReporterActions, code: str) -> None:
    data = {"csrf_token": reporter.csrf_token(), "code": code}
    assert reporter.client.post("/receipt.txt", data=data).status_code == 400


def test_the_receipt_file_needs_the_csrf_token(reporter: ReporterActions) -> None:
    reporter.csrf_token()
    response = reporter.client.post("/receipt.txt", data={"code": "1" * 20})
    assert response.status_code == 400


def test_the_status_page_shows_replies_translated_and_an_answer_form(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    code = reporter.report()
    [submission] = officer.client.pending()
    key = b64decode(submission["reporter_public_key"], length=32)
    reply(officer, submission["reporter_id"], key, status="referred", message="Merci, الشكر")
    reply(officer, submission["reporter_id"], key, status="closed", reason="handled")
    status, page = reporter.status(code)
    assert status == 200
    assert "Referred to the judicial police" in page
    assert "Merci, الشكر" in page
    assert "it has been dealt with" in page
    assert 'action="/followup' in page and 'name="attachments"' in page
    assert code not in page and code.replace(" ", "") not in page, "the code is not echoed"


def test_a_follow_up_with_files_is_a_followup_submission_of_the_same_reporter(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    code = reporter.report()
    status, page = reporter.follow_up(
        code, message="New account: @other", urls="t.me/other", files=[(b"%PDF-1.4 x", "b.pdf")]
    )
    assert status == 200, page[-1500:]
    assert "Your message has been sent" in page
    report, followup = officer.pending()
    assert (report.kind, followup.kind) == ("report", "followup")
    assert followup.reporter_id == report.reporter_id
    body = followup.blobs["body"]
    assert body.metadata.kind == "followup"
    wrapper = body.json()
    assert wrapper["v"] == 2, "a follow-up body is signed (docs/envelope.md)"
    document = json.loads(wrapper["content"])
    assert document["category"] == FOLLOWUP_CATEGORY
    assert document["description"] == "New account: @other"
    assert document["urls"] == ["https://t.me/other"]
    assert followup.blobs["attachment-1"].content == b"%PDF-1.4 x"
    assert followup.blobs["attachment-1"].metadata.content_type == "application/pdf"


def test_a_follow_up_may_be_only_a_file(reporter: ReporterActions, officer: OfficerView) -> None:
    code = reporter.report()
    status, _ = reporter.follow_up(code, message="", files=[(b"img", "x.png")])
    assert status == 200


def test_an_empty_follow_up_is_refused(reporter: ReporterActions, source_data_dir: Path) -> None:
    code = reporter.report()
    status, page = reporter.follow_up(code, message="   ")
    assert status == 400
    assert "Write a message, give an address or attach a file" in page


@pytest.mark.parametrize(("typed", "expected"), [("1" * 20, 404), ("12345", 400), ("", 400)])
def test_a_follow_up_with_a_wrong_code_keeps_nothing(
    reporter: ReporterActions, source_data_dir: Path, typed: str, expected: int
) -> None:
    reporter.report()
    before = sorted((source_data_dir / "blobs").rglob("*"))
    status, page = reporter.follow_up(typed, files=[(b"%PDF-1.4 x", "b.pdf")])
    assert status == expected
    assert 'id="code-errors"' in page
    assert "Your files were not kept" in page
    assert sorted((source_data_dir / "blobs").rglob("*")) == before


def test_the_follow_up_page_works_on_its_own(reporter: ReporterActions) -> None:
    page = reporter.client.get("/followup?lang=en").get_data(as_text=True)
    assert 'name="code"' in page and 'enctype="multipart/form-data"' in page
    assert 'autocomplete="off"' in page


def test_the_session_cookie_never_holds_the_code(
    source_app: Flask, reporter: ReporterActions
) -> None:
    code = reporter.report()
    reporter.status(code)
    reporter.follow_up(code)
    cookie = reporter.client.get_cookie("session")
    assert cookie is not None
    serializer = source_app.session_interface.get_signing_serializer(source_app)  # type: ignore[attr-defined]
    session = serializer.loads(cookie.value)
    assert set(session) <= {"csrf_token", "attempts"}
    assert code.replace(" ", "") not in str(session)


def test_the_follow_up_category_is_not_a_report_category() -> None:
    from source_app.categories import CATEGORY_IDS

    assert FOLLOWUP_CATEGORY not in CATEGORY_IDS
