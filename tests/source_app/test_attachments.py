"""Files sent with a report: sealed as they arrive, committed with the report or not at all."""

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from source_app import create_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.pulled import OfficerView

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200_000)
PDF = b"%PDF-1.7\n" + b"stream " * 30_000


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> OfficerView:
    return OfficerView(source_data_dir, unit_keys)


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    environ = {**source_environ(source_data_dir), **settings}
    return create_app(SourceConfig.from_env(environ))


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]


def incoming(data_dir: Path) -> list[Path]:
    return list((data_dir / "blobs" / ".incoming").iterdir())


def post_report(reporter: ReporterActions, files: list[tuple[bytes, str]], **fields: Any) -> Any:
    data = reporter.report_form(**fields)
    data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    return reporter.client.post("/report?lang=en", data=data, content_type="multipart/form-data")


def test_attachments_reach_the_unit_sealed_with_name_type_size_and_hash(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    reporter.report(files=[(PNG, "لقطة شاشة.png"), (PDF, "statement.pdf")])
    submission = officer.only()
    assert set(submission.blobs) == {"body", "attachment-1", "attachment-2"}
    first, second = submission.blobs["attachment-1"], submission.blobs["attachment-2"]
    assert (first.metadata.kind, first.metadata.name, first.metadata.content_type) == (
        "attachment", "لقطة شاشة.png", "image/png",
    )  # fmt: skip
    assert first.content == PNG and second.content == PDF
    assert second.metadata.content_type == "application/pdf"
    records = submission.blobs["body"].report()["attachments"]
    assert records == [
        {"blob": "attachment-1", "name": "لقطة شاشة.png", "type": "image/png",
         "size": len(PNG), "sha256": hashlib.sha256(PNG).hexdigest()},
        {"blob": "attachment-2", "name": "statement.pdf", "type": "application/pdf",
         "size": len(PDF), "sha256": hashlib.sha256(PDF).hexdigest()},
    ]  # fmt: skip
    assert PNG[-64:] not in first.ciphertext


def test_the_client_declared_type_is_ignored(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    data = reporter.report_form()
    data["attachments"] = [(io.BytesIO(b"MZ\x90\x00 not an image"), "holiday.jpg", "image/jpeg")]
    response = reporter.client.post("/report", data=data, content_type="multipart/form-data")
    assert response.status_code == 200
    attachment = officer.only().blobs["attachment-1"]
    assert attachment.metadata.content_type == "application/x-msdownload"
    assert attachment.metadata.name == "holiday.jpg"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../../etc/cron.d/evil", "evil"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("photo\x00.php", "photo.php"),
        ("\u202egpj.exe", "gpj.exe"),
        ("a" * 5000 + ".png", "a" * 196 + ".png"),
        ("", None),  # an empty name with content still arrives, as "attachment"
    ],
)
def test_path_tricks_in_file_names_are_neutralised(
    reporter: ReporterActions, officer: OfficerView, raw: str, expected: str | None
) -> None:
    response = post_report(reporter, [(b"content", raw)])
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    blobs = officer.only().blobs
    if expected is None:
        assert "attachment-1" not in blobs or blobs["attachment-1"].metadata.name == "attachment"
    else:
        assert blobs["attachment-1"].metadata.name == expected


def test_an_empty_file_input_adds_no_attachment(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    response = post_report(reporter, [(b"", "")])
    assert response.status_code == 200
    assert set(officer.only().blobs) == {"body"}


def test_files_before_the_text_fields_are_kept_in_order(
    reporter: ReporterActions, officer: OfficerView
) -> None:
    token = reporter.csrf_token()
    boundary = "----iblagh"
    parts = [
        ("attachments", "one.txt", b"first file"),
        ("attachments", "two.txt", b"second file"),
    ]
    body = b""
    for name, filename, content in parts:
        body += (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + b"\r\n"
        )
    fields = reporter.report_form()
    fields["csrf_token"] = token
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    body += f"--{boundary}--\r\n".encode()
    response = reporter.client.post(
        "/report", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    blobs = officer.only().blobs
    assert blobs["attachment-1"].content == b"first file"
    assert blobs["attachment-2"].content == b"second file"


def test_an_invalid_form_keeps_none_of_its_files(
    reporter: ReporterActions, source_data_dir: Path
) -> None:
    response = post_report(reporter, [(PNG, "a.png")], description="")
    assert response.status_code == 400
    assert "Your files were not kept" in response.get_data(as_text=True)
    assert stored_files(source_data_dir) == []
    assert incoming(source_data_dir) == []


def test_a_missing_csrf_token_keeps_no_file(
    reporter: ReporterActions, source_data_dir: Path
) -> None:
    response = post_report(reporter, [(PNG, "a.png")], csrf_token="forged")
    assert response.status_code == 400
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_no_session_seals_no_file_and_brings_the_form_back(
    client: FlaskClient, source_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A browser whose session ended (restarted, Tor Browser's "New Identity"): its form
    comes back with its answers and a session (issue 10, item 11); not a byte of its
    files reaches the store."""
    from source_app import storage

    def never(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a file was sealed without a session")

    monkeypatch.setattr(storage.LocalBlobStore, "new_blob", never)
    data = {"description": "kept answer", "attachments": (io.BytesIO(PNG), "a.png")}
    response = client.post("/report?lang=fr", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "la session du navigateur a pris fin" in page
    assert ">kept answer</textarea>" in page
    assert "Vos fichiers n’ont pas été conservés" in page
    assert "session=" in response.headers.get("Set-Cookie", "")
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_no_session_is_refused_before_the_body_is_read_on_other_pages(
    client: FlaskClient,
) -> None:
    response = client.post("/status?lang=fr", data={"code": "1234"})
    assert response.status_code == 400
    assert "formulaire" in response.get_data(as_text=True).lower()


def test_a_file_in_another_field_is_refused(
    reporter: ReporterActions, source_data_dir: Path
) -> None:
    data = reporter.report_form()
    data["photo"] = (io.BytesIO(PNG), "a.png")
    response = reporter.client.post("/report", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_more_files_than_allowed_is_a_413_and_keeps_nothing(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_MAX_ATTACHMENTS="2")
    reporter = ReporterActions(app.test_client())
    response = post_report(reporter, [(b"1", "a"), (b"2", "b"), (b"3", "c")])
    assert response.status_code == 413
    assert "at most 2" in response.get_data(as_text=True)
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_files_larger_than_the_upload_limit_are_a_413_and_keep_nothing(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_MAX_UPLOAD_BYTES=str(150_000))
    reporter = ReporterActions(app.test_client())
    response = post_report(reporter, [(b"x" * 100_000, "a"), (b"y" * 100_000, "b")])
    assert response.status_code == 413
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_a_body_over_the_route_limit_is_refused_from_its_content_length(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_MAX_UPLOAD_BYTES=str(10_000))
    reporter = ReporterActions(app.test_client())
    response = post_report(reporter, [(b"x" * 3_000_000, "a")])
    assert response.status_code == 413


def test_other_pages_keep_their_small_limit(reporter: ReporterActions) -> None:
    data = {"csrf_token": reporter.csrf_token("/status"), "code": "1" * 1_500_000}
    assert reporter.client.post("/status", data=data).status_code == 413
    # A urlencoded body to the report page is read whole: it keeps the small limit too.
    data = reporter.report_form(description="x" * 1_500_000)
    assert reporter.client.post("/report", data=data).status_code == 413


def test_under_the_disk_watermark_files_are_refused_but_text_and_status_work(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_MIN_FREE_BYTES=str(10**18))
    reporter = ReporterActions(app.test_client())
    response = post_report(reporter, [(PNG, "a.png")])
    assert response.status_code == 507
    assert "short of storage space" in response.get_data(as_text=True)
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []
    code = reporter.report()  # a text report is tiny: it still goes through
    assert reporter.status(code)[0] == 200


def test_a_full_disk_while_sealing_is_a_507_not_a_500(
    reporter: ReporterActions, source_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from source_app import storage

    def full(self: Any, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage._LocalUpload, "write", full)
    response = post_report(reporter, [(PNG, "a.png")])
    assert response.status_code == 507
    assert incoming(source_data_dir) == []


def test_a_failed_commit_removes_the_sealed_files(
    reporter: ReporterActions, source_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.orm import Session

    def broken_commit(self: Session) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Session, "commit", broken_commit)
    response = post_report(reporter, [(PNG, "a.png"), (PDF, "b.pdf")])
    assert response.status_code == 500
    assert "Nothing you sent was kept" in response.get_data(as_text=True)
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


@pytest.mark.parametrize(
    "body",
    [
        b'--b\r\nContent-Disposition: form-data; name="attachments"; filename="a"\r\n\r\nabc',
        b'--b\r\nContent-Disposition: form-data; name="attachments"; filename="\xff\xfe"'
        b"\r\n\r\nx\r\n--b--\r\n",
        b"--b\r\nNo-Disposition: x\r\n\r\nabc\r\n--b--\r\n",
        b"garbage without any boundary",
        b'--b\r\nContent-Disposition: form-data; name="attachments"; filename="a"\r\n\r\n'
        + b"x" * 200_000,
    ],
)
def test_garbage_or_truncated_multipart_is_a_4xx_and_leaves_nothing(
    reporter: ReporterActions, source_data_dir: Path, body: bytes
) -> None:
    reporter.csrf_token()
    response = reporter.client.post(
        "/report", data=body, content_type="multipart/form-data; boundary=b"
    )
    assert 400 <= response.status_code < 500
    assert stored_files(source_data_dir) == [] and incoming(source_data_dir) == []


def test_a_multipart_without_boundary_is_a_4xx(reporter: ReporterActions) -> None:
    reporter.csrf_token()
    response = reporter.client.post("/report", data=b"x", content_type="multipart/form-data")
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("max_request_bytes", ["1048576", "100000"])
def test_files_larger_than_a_text_field_may_be_are_taken(
    source_data_dir: Path, unit_keys: UnitKeys, max_request_bytes: str
) -> None:
    """Werkzeug checks every piece it reads against the text-field limit, files included."""
    app = app_with(source_data_dir, IBLAGH_MAX_REQUEST_BYTES=max_request_bytes)
    reporter = ReporterActions(app.test_client())
    video = os.urandom(5 * 1024 * 1024 + 7)
    response = post_report(reporter, [(video, "v.mp4"), (PNG, "p.png")])
    assert response.status_code == 200, response.get_data(as_text=True)[-800:]
    blobs = OfficerView(source_data_dir, unit_keys).only().blobs
    assert blobs["attachment-1"].content == video and blobs["attachment-2"].content == PNG
