"""The public pages as a reporter meets them, including every way to send them bad input."""

import re
import string
import urllib.parse
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ReporterActions, UnitKeys, source_environ

PAGES = ["/", "/report", "/status"]


def stored_blobs(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "blobs").rglob("*") if p.is_file()]


def test_home_page_sets_no_cookie(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_a_report_gives_a_receipt_code_of_twenty_digits_in_groups(
    reporter: ReporterActions,
) -> None:
    code = reporter.report()
    assert re.fullmatch(r"\d{4}( \d{4}){4}", code)


def test_status_page_with_the_code_shows_received(reporter: ReporterActions) -> None:
    code = reporter.report()
    status, page = reporter.status(code)
    assert status == 200
    assert "Received" in page
    assert "waiting to be collected" in page


def test_status_accepts_the_code_typed_in_arabic_indic_digits(reporter: ReporterActions) -> None:
    code = reporter.report()
    arabic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")).replace(" ", "-")
    status, _ = reporter.status(arabic)
    assert status == 200


@pytest.mark.parametrize(
    ("typed", "expected"), [("1" * 20, 404), ("12345", 400), ("abcd " * 5, 400), ("", 400)]
)
def test_wrong_codes_get_a_clear_4xx(reporter: ReporterActions, typed: str, expected: int) -> None:
    status, page = reporter.status(typed)
    assert status == expected
    assert 'class="errors"' in page


def test_missing_csrf_token_is_a_translated_400_and_stores_nothing(
    client: FlaskClient, source_data_dir: Path
) -> None:
    data = {"category": "terrorism", "url": "https://x.example", "description": "d"}
    response = client.post("/report?lang=fr", data=data)
    assert response.status_code == 400
    assert "formulaire" in response.get_data(as_text=True).lower()
    assert stored_blobs(source_data_dir) == []


def test_unknown_category_is_refused(reporter: ReporterActions, source_data_dir: Path) -> None:
    data = {
        "csrf_token": reporter.csrf_token(),
        "category": "nonsense",
        "urls": "https://x.example/a",
        "good_faith": "y",
        "description": "text",
        "identity": "anonymous",
    }
    response = reporter.client.post("/report", data=data)
    assert response.status_code == 400
    assert stored_blobs(source_data_dir) == []


def test_identified_report_needs_a_name(reporter: ReporterActions) -> None:
    data = {
        "csrf_token": reporter.csrf_token(),
        "category": "fraud",
        "urls": "https://x.example/a",
        "description": "text",
        "identity": "identified",
        "full_name": "   ",
        "good_faith": "y",
    }
    response = reporter.client.post("/report?lang=en", data=data)
    assert response.status_code == 400
    assert "Enter your name" in response.get_data(as_text=True)


def test_a_file_upload_where_no_files_belong_is_refused_without_touching_the_disk(
    reporter: ReporterActions, source_data_dir: Path
) -> None:
    import io

    data = {
        "csrf_token": reporter.csrf_token("/status"),
        "code": "1234 5678 9012 3456 7890",
        "file": (io.BytesIO(b"x" * 600_000), "evidence.png"),
    }
    response = reporter.client.post("/status", data=data, content_type="multipart/form-data")
    assert response.status_code == 415
    assert stored_blobs(source_data_dir) == []
    assert list((source_data_dir / "blobs" / ".incoming").iterdir()) == []


def test_an_oversized_request_is_413(reporter: ReporterActions) -> None:
    data = {"csrf_token": reporter.csrf_token("/status"), "code": "x" * (2 * 1024 * 1024)}
    response = reporter.client.post("/status", data=data)
    assert response.status_code == 413


def test_garbage_multipart_is_4xx(client: FlaskClient) -> None:
    response = client.post(
        "/report",
        data=b"--zzz\r\nContent-Disposition: form-data; name=\xff\r\n\r\n\x00\x01",
        content_type="multipart/form-data; boundary=zzz",
    )
    assert 400 <= response.status_code < 500


def test_invalid_utf8_in_a_field_is_4xx(client: FlaskClient) -> None:
    response = client.post(
        "/report",
        data=b"description=%FF%FE&url=%C3",
        content_type="application/x-www-form-urlencoded",
    )
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_invalid_utf8_with_a_valid_session_is_a_translated_400_and_stores_nothing(
    reporter: ReporterActions, source_data_dir: Path, encoding: str
) -> None:
    """Past the session and CSRF checks: bytes that are not UTF-8 must not become U+FFFD."""
    fields = {
        **reporter.report_form(description="placeholder"),
        "csrf_token": reporter.csrf_token(),
    }
    if encoding == "urlencoded":
        body = urllib.parse.urlencode(fields).replace("placeholder", "bad%FF%FEtext").encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        parts = [
            f'--zz\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + (b"bad\xff\xfetext" if value == "placeholder" else str(value).encode())
            + b"\r\n"
            for name, value in fields.items()
        ]
        body = b"".join(parts) + b"--zz--\r\n"
        content_type = "multipart/form-data; boundary=zz"
    response = reporter.client.post("/report?lang=fr", data=body, content_type=content_type)
    assert response.status_code == 400
    assert "formulaire" in response.get_data(as_text=True).lower()
    assert stored_blobs(source_data_dir) == []


@pytest.mark.parametrize("path", [*PAGES, "/nope", "/static/style.css"])
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    headers = response.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # Only the report form may run script: this host's own, by hash and SRI
    # (tests/source_app/test_static_manifest.py), and WebAssembly for libsodium.
    if path.startswith(("/report", "/status")):
        assert "script-src 'self' 'sha256-" in headers["Content-Security-Policy"]
        assert "'unsafe-eval'" not in headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    else:
        assert "script-src" not in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "Server" not in headers
    if not path.startswith("/static/"):
        assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("range_header", "status", "length"),
    [
        ("bytes=0-9", 206, 10),
        ("bytes=-5", 206, 5),
        # What cannot be used is ignored (RFC 9110 §14.2), not refused: the whole file.
        ("chars=0-9", 200, None),  # an unknown unit must be ignored
        ("bytes=abc", 200, None),
        ("bytes=5-1", 200, None),
        ("bytes=0-1,4-5", 200, None),  # several ranges: not served, so not asked
        # One range past the end is what 416 is for.
        ("bytes=99999999-", 416, None),
    ],
)
def test_a_range_on_a_static_file_is_served_ignored_or_unsatisfiable(
    client: FlaskClient, range_header: str, status: int, length: int | None
) -> None:
    whole = client.get("/static/style.css").get_data()
    response = client.get("/static/style.css?lang=fr", headers={"Range": range_header})
    assert response.status_code == status
    if status == 206:
        assert len(response.get_data()) == length
    elif status == 200:
        assert response.get_data() == whole
    else:
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_session_cookie_is_httponly_and_strict(client: FlaskClient) -> None:
    cookie = client.get("/report").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


@pytest.mark.parametrize("path", PAGES)
def test_pages_load_no_script_and_nothing_from_elsewhere(client: FlaskClient, path: str) -> None:
    page = client.get(path).get_data(as_text=True)
    if path.startswith(("/report", "/status")):
        # The browser-sealing script, from this host, with its integrity; an import map.
        script = {"/report": "report_form.js", "/status": "status_page.js"}[path]
        scripts = re.findall(r"<script[^>]*>", page)
        assert scripts == [
            '<script type="importmap">',
            f'<script type="module" src="/static/js/{script}" integrity="sha384-'
            + scripts[1].split('integrity="sha384-')[1],
        ]
        page = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert "<script" not in page
    assert " style=" not in page
    for reference in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not reference.startswith(("http:", "https:", "//")), reference


def test_arabic_is_the_default_and_right_to_left(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in page


@pytest.mark.parametrize(("lang", "word"), [("fr", "Signaler"), ("es", "Denunciar")])
def test_language_follows_the_browser_and_the_switch(
    client: FlaskClient, lang: str, word: str
) -> None:
    by_header = client.get("/", headers={"Accept-Language": f"{lang},en;q=0.5"})
    assert f'lang="{lang}" dir="ltr"' in by_header.get_data(as_text=True)
    by_switch = client.get(f"/?lang={lang}").get_data(as_text=True)
    assert f'lang="{lang}"' in by_switch
    assert word.lower() in by_switch.lower()


def test_not_found_is_translated(client: FlaskClient) -> None:
    response = client.get("/nope?lang=fr")
    assert response.status_code == 404
    assert "n’existe pas" in response.get_data(as_text=True) or "n'existe pas" in (
        response.get_data(as_text=True)
    )


form_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=300)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    category=st.one_of(st.sampled_from(["terrorism", "child_abuse", "other"]), form_text),
    url=form_text,
    description=form_text,
    identity=st.one_of(st.sampled_from(["anonymous", "identified"]), form_text),
    full_name=form_text,
)
def test_any_form_input_gets_a_code_or_a_4xx_never_a_500(
    source_app: Flask,
    source_data_dir: Path,
    category: str,
    url: str,
    description: str,
    identity: str,
    full_name: str,
) -> None:
    client = source_app.test_client()
    actions = ReporterActions(client)
    before = len(stored_blobs(source_data_dir))
    data = {
        "csrf_token": actions.csrf_token(),
        "category": category,
        "urls": url,
        "description": description,
        "identity": identity,
        "full_name": full_name,
        "good_faith": "y",
    }
    response = client.post("/report", data=data)
    after = len(stored_blobs(source_data_dir))
    if response.status_code == 200:
        assert re.search(r"<bdi>[0-9 ]{24}</bdi>", response.get_data(as_text=True))
        assert after - before == (2 if identity == "identified" else 1)
    else:
        assert response.status_code == 400
        assert after == before


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=st.text(alphabet=string.digits + " -٠١٢٣٤٥٦٧٨٩x", max_size=40))
def test_any_typed_code_gets_a_page_never_a_500(client: FlaskClient, typed: str) -> None:
    actions = ReporterActions(client)
    status, _ = actions.status(typed)
    assert status in (400, 404)


def test_language_links_cannot_point_to_another_site(client: FlaskClient) -> None:
    """A crafted path like /\\evil.example must not turn the language links into //evil."""
    page = client.get("/%5Cevil.example/x").get_data(as_text=True)
    for link in re.findall(r'href="([^"]*lang=[^"]*)"', page):
        assert not link.startswith(("/\\", "//", "\\")), link
        assert "evil.example" not in link


any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=100)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=any_text)
def test_any_text_posted_as_a_receipt_code_gets_a_file_or_a_400(
    client: FlaskClient, typed: str
) -> None:
    actions = ReporterActions(client)
    response = client.post(
        "/receipt.txt", data={"csrf_token": actions.csrf_token("/status"), "code": typed}
    )
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        digits = "".join(c for c in response.get_data(as_text=True) if c.isdigit())
        assert len(digits) >= 20
        assert response.headers["Content-Disposition"].startswith("attachment")
        assert response.headers["Cache-Control"] == "no-store"


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(typed=any_text)
def test_any_text_typed_as_a_code_gets_a_page_never_a_500(client: FlaskClient, typed: str) -> None:
    status, _ = ReporterActions(client).status(typed)
    assert status in (400, 404, 429)


def test_an_older_validly_signed_recipient_set_is_refused_after_a_newer_one(
    source_data_dir: Path, unit_keys: UnitKeys
) -> None:
    """Rollback: a signature proves the unit issued a set, not that it is still current."""
    from crypto.recipients import make_recipient_set, sign_recipient_set
    from source_app import create_app
    from source_app.config import ConfigError, SourceConfig

    def install(serial: int) -> None:
        newer = make_recipient_set(
            serial,
            "2026-11-28T00:00:00Z",
            [unit_keys.intake.public_key],
            unit_keys.recovery.public_key,
            [unit_keys.sync.verify_key],
            identity_keys=[unit_keys.identity.public_key],
        )
        signed = sign_recipient_set(newer, unit_keys.signing)
        (source_data_dir / "recipient-set.json").write_bytes(signed)

    environ = source_environ(source_data_dir)
    install(2)
    create_app(SourceConfig.from_env(environ))
    install(3)
    create_app(SourceConfig.from_env(environ))
    install(2)
    with pytest.raises(ConfigError, match="already ran on serial 3"):
        create_app(SourceConfig.from_env(environ))


def test_personal_answers_are_never_cached(reporter: ReporterActions) -> None:
    """The receipt, the status page and the receipt file carry no-store and the CSP."""
    data = reporter.report_form()
    receipt = reporter.client.post("/report?lang=en", data=data)
    code = re.search(r"<bdi>([0-9 ]{24})</bdi>", receipt.get_data(as_text=True))
    assert code
    status = reporter.client.post(
        "/status", data={"csrf_token": reporter.csrf_token("/status"), "code": code.group(1)}
    )
    download = reporter.client.post(
        "/receipt.txt", data={"csrf_token": reporter.csrf_token("/status"), "code": code.group(1)}
    )
    for response in (receipt, status, download):
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Referrer-Policy"] == "no-referrer"


def test_over_https_with_an_onion_the_host_sends_hsts_secure_cookies_and_onion_location(
    source_data_dir: Path,
) -> None:
    from source_app import create_app
    from source_app.config import SourceConfig

    onion = "a" * 56 + ".onion"
    environ = {
        **source_environ(source_data_dir),
        "IBLAGH_HTTPS": "1",
        "IBLAGH_ONION_ADDRESS": onion,
    }
    client = create_app(SourceConfig.from_env(environ)).test_client()
    response = client.get("/report?lang=fr", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Onion-Location"] == f"http://{onion}/report?lang=fr"
