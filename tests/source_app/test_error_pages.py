"""Every refusal of the public site is a page in the reporter's language, never a 500."""

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from source_app import create_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, source_environ

RECEIPT = re.compile(r"<bdi>([0-9 ]{24})</bdi>")


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    return create_app(SourceConfig.from_env({**source_environ(source_data_dir), **settings}))


def assert_error_page(response: object, status: int, lang: str = "fr") -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert f'<html lang="{lang}"' in page
    assert 'class="alert" role="alert"' in page
    assert "Traceback" not in page


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nope?lang=fr", 404),
        ("GET", "/receipt.txt?lang=fr", 405),
        ("PUT", "/report?lang=fr", 405),
        ("DELETE", "/status?lang=fr", 405),
    ],
)
def test_wrong_paths_and_methods_get_a_translated_page(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    assert_error_page(client.open(path, method=method), status)


def test_each_limit_answers_with_its_own_translated_page(source_data_dir: Path) -> None:
    app = app_with(
        source_data_dir,
        IBLAGH_SUBMISSIONS_PER_MINUTE="1",
        IBLAGH_MAX_ATTACHMENTS="1",
        IBLAGH_MIN_FREE_BYTES=str(10**18),
    )
    reporter = ReporterActions(app.test_client())
    data = reporter.report_form()
    data["attachments"] = [(io.BytesIO(b"a"), "a"), (io.BytesIO(b"b"), "b")]
    first = reporter.client.post("/report?lang=fr", data=data, content_type="multipart/form-data")
    # The watermark is checked at the first byte of a file: the form comes back with its
    # answers and the advice to send it without files (issue 10, item 11).
    assert first.status_code == 507
    page = first.get_data(as_text=True)
    assert '<html lang="fr"' in page and 'id="error-summary"' in page
    assert "envoyez votre signalement sans fichiers" in page
    reporter.report()  # a refused request spent nothing: this one spends the minute's one
    second = reporter.client.post("/report?lang=fr", data=reporter.report_form())
    # The form comes back with its answers and the rate (issue 10, item 11).
    assert second.status_code == 429
    page = second.get_data(as_text=True)
    assert '<html lang="fr"' in page and 'id="error-summary"' in page
    assert "(ce site en reçoit 1 par minute)" in page
    assert "A channel posts propaganda every day." in page
    status = {"csrf_token": reporter.csrf_token("/status"), "code": "9" * 2_000_000}
    assert_error_page(reporter.client.post("/status?lang=fr", data=status), 413)


def test_the_receipt_download_refusal_is_a_page(reporter: ReporterActions) -> None:
    data = {"csrf_token": reporter.csrf_token(), "code": "not a code"}
    assert_error_page(reporter.client.post("/receipt.txt?lang=fr", data=data), 400)


code_text = st.text(alphabet="0123456789 -٠١٢٣٤٥٦٧٨٩ab", max_size=30)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    code=st.one_of(code_text, any_text),
    message=any_text,
    urls=st.one_of(st.sampled_from(["", "t.me/x", "javascript:x"]), any_text),
)
def test_any_follow_up_input_gets_a_page_never_a_500(
    source_app: Flask, source_data_dir: Path, code: str, message: str, urls: str
) -> None:
    reporter = ReporterActions(source_app.test_client())
    status, _ = reporter.follow_up(code, message=message, urls=urls)
    assert status in (400, 404)
    assert list((source_data_dir / "blobs" / ".incoming").iterdir()) == []


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    files=st.lists(
        st.tuples(st.binary(max_size=3000), st.text(max_size=300)), min_size=1, max_size=3
    )
)
def test_any_file_name_and_content_is_sealed_or_refused_never_a_500(
    source_app: Flask, source_data_dir: Path, files: list[tuple[bytes, str]]
) -> None:
    reporter = ReporterActions(source_app.test_client())
    data = reporter.report_form()
    data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    response = reporter.client.post("/report", data=data, content_type="multipart/form-data")
    assert response.status_code in (200, 400), response.status_code
    if response.status_code == 200:
        assert RECEIPT.search(response.get_data(as_text=True))
    assert list((source_data_dir / "blobs" / ".incoming").iterdir()) == []
