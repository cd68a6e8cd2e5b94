"""No dead ends (issue 10, item 11): files over a limit, an expired form and a rate limit
bring the form back with every typed answer, the reason and the limit, and an error
summary at the top that links to each wrong answer. Files cannot be given back to a
browser: the page says so. Nothing is stored."""

import io
import re
import time
from pathlib import Path
from typing import Any

from flask import Flask
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from source_app import create_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, source_environ

TYPED = {
    "category": "hate",
    "urls": "https://t.me/kept/7",
    "platform": "Telegram kept",
    "account": "@kept_account",
    "description": "Every answer here must come back.",
    "seen_on": "2026-11-30",
}


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    return create_app(SourceConfig.from_env({**source_environ(source_data_dir), **settings}))


def stored_and_incoming(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]


def assert_answers_kept(page: str) -> None:
    assert 'id="error-summary"' in page and 'role="alert"' in page
    assert re.search(
        r'<input type="radio" name="category" id="category-hate" value="hate"[^>]* checked', page
    )
    for name in ("urls", "description"):
        assert f">{TYPED[name]}</textarea>" in page, name
    for name in ("platform", "account", "seen_on"):
        assert f'value="{TYPED[name]}"' in page, name
    assert re.search(r'<input type="checkbox" name="good_faith"[^>]* checked', page)


def post_with_files(reporter: ReporterActions, files: list[bytes], **fields: Any) -> Any:
    data = reporter.report_form(**{**TYPED, **fields})
    data["attachments"] = [(io.BytesIO(content), f"f{i}.bin") for i, content in enumerate(files)]
    return reporter.client.post("/report?lang=en", data=data, content_type="multipart/form-data")


def test_too_many_files_bring_the_form_back_with_the_limit(source_data_dir: Path) -> None:
    reporter = ReporterActions(app_with(source_data_dir, IBLAGH_MAX_ATTACHMENTS="2").test_client())
    response = post_with_files(reporter, [b"1", b"2", b"3"])
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert_answers_kept(page)
    assert "Too many files: at most 2 can be sent at once" in page
    assert stored_and_incoming(source_data_dir) == []


def multipart_in_page_order(fields: dict[str, str], files: list[bytes]) -> tuple[bytes, str]:
    """A body as a browser sends the report form: the file parts in the middle, between
    the description and the identity fields."""
    boundary = "----iblaghkeptanswers"
    names = list(fields)
    split = names.index("description") + 1
    body = b""

    def text_part(name: str) -> bytes:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        return (head + f"{fields[name]}\r\n").encode()

    for name in names[:split]:
        body += text_part(name)
    for i, content in enumerate(files):
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
                f'filename="f{i}.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    for name in names[split:]:
        body += text_part(name)
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_files_too_large_bring_the_form_back_with_the_limit(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_MAX_UPLOAD_BYTES=str(150_000))
    reporter = ReporterActions(app.test_client())
    fields = reporter.report_form(**TYPED)
    fields.update(identity="identified", full_name="Kept After The Files", phone="0612345678")
    # The text fields after the files in the body still reach the page sent back.
    body, content_type = multipart_in_page_order(fields, [b"x" * 100_000, b"y" * 100_000])
    response = reporter.client.post("/report?lang=en", data=body, content_type=content_type)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert_answers_kept(page)
    assert 'value="Kept After The Files"' in page
    assert "The files are too large together: at most 146 KB" in page
    assert "Your files were not kept" in page
    assert stored_and_incoming(source_data_dir) == []


def test_an_expired_form_comes_back_with_its_answers_and_a_fresh_token(
    source_app: Flask, source_data_dir: Path
) -> None:
    reporter = ReporterActions(source_app.test_client())
    reporter.csrf_token()
    with reporter.client.session_transaction() as session:
        raw = session["csrf_token"]

    class FiveHoursAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 5 * 3600

    old = URLSafeTimedSerializer(
        source_app.config["SECRET_KEY"], salt="wtf-csrf-token", signer=FiveHoursAgo
    ).dumps(raw)
    data = reporter.report_form(**TYPED)
    data["csrf_token"] = old
    response = reporter.client.post("/report?lang=fr", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert_answers_kept(page)
    assert "Ce formulaire a expiré : il est resté ouvert plus de 4 heures, ou la session" in page
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert fresh and fresh.group(1) != old
    # Sent again as it came back, it is filed.
    data["csrf_token"] = fresh.group(1)
    assert reporter.client.post("/report?lang=fr", data=data).status_code == 200


def test_a_forged_token_is_still_refused(reporter: ReporterActions, source_data_dir: Path) -> None:
    data = reporter.report_form(**TYPED)
    data["csrf_token"] = "forged"
    response = reporter.client.post("/report", data=data)
    assert response.status_code == 400
    assert stored_and_incoming(source_data_dir) == []


def test_the_error_summary_links_to_each_wrong_answer(reporter: ReporterActions) -> None:
    data = reporter.report_form(category="", description="", good_faith="", email="not an address")
    data["identity"] = "identified"
    page = reporter.client.post("/report?lang=en", data=data).get_data(as_text=True)
    summary = page[
        page.index('id="error-summary"') : page.index("</div>", page.index('id="error-summary"'))
    ]
    links = re.findall(r'<a href="#([^"]+)">', summary)
    assert links[:1] == ["category-child_abuse"]
    for target in ("description", "good_faith", "email", "full_name"):
        assert target in links, target
    for target in links:  # every link lands on a field of the page
        assert f'id="{target}"' in page, target
    # It comes first in the page's content and takes the focus on arrival.
    assert page.index('id="error-summary"') < page.index("<form")
    assert re.search(r'id="error-summary" tabindex="-1" autofocus', page)


def test_a_follow_up_over_the_file_limit_keeps_its_message(source_data_dir: Path) -> None:
    reporter = ReporterActions(app_with(source_data_dir, IBLAGH_MAX_ATTACHMENTS="1").test_client())
    data = {
        "csrf_token": reporter.csrf_token("/followup"),
        "code": "1234 5678 9012 3456 7890",
        "message": "A message that must come back.",
        "attachments": [(io.BytesIO(b"1"), "a"), (io.BytesIO(b"2"), "b")],
    }
    response = reporter.client.post(
        "/followup?lang=en", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert ">A message that must come back.</textarea>" in page
    assert "Too many files: at most 1 can be sent at once" in page


def test_a_file_well_over_the_limit_still_brings_the_form_back(source_data_dir: Path) -> None:
    """Over the limit by more than the form's own 2 MiB: still read to its end (up to
    twice the limit), nothing sealed past the limit, the answers back on the page."""
    app = app_with(source_data_dir, IBLAGH_MAX_UPLOAD_BYTES=str(3_000_000))
    reporter = ReporterActions(app.test_client())
    response = post_with_files(reporter, [b"v" * 5_500_000])
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert_answers_kept(page)
    assert "at most 2.9 MB" in page
    assert stored_and_incoming(source_data_dir) == []


def test_a_body_over_twice_the_limit_is_refused_from_its_length(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_MAX_UPLOAD_BYTES=str(1_000_000))
    reporter = ReporterActions(app.test_client())
    assert post_with_files(reporter, [b"v" * 4_500_000]).status_code == 413
    assert stored_and_incoming(source_data_dir) == []


def test_under_the_disk_watermark_the_form_comes_back_to_be_sent_without_files(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_MIN_FREE_BYTES=str(10**18))
    reporter = ReporterActions(app.test_client())
    response = post_with_files(reporter, [b"a photo"])
    assert response.status_code == 507
    page = response.get_data(as_text=True)
    assert_answers_kept(page)
    assert "send your report without files" in page
    assert stored_and_incoming(source_data_dir) == []
