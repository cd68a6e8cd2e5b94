"""The copy button for reported addresses: one self-hosted script, on the case and report
pages only, under a CSP that allows that origin's files and nothing inline."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_app import create_app
from journalist_app.models import ReportTriage
from tests.support.triage import TriageWorld, log_in, make_world

TEMPLATES = Path(__file__).resolve().parents[2] / "journalist_app" / "templates"
SCRIPT_TAG = '<script src="/static/copy.js" defer>'
URL = "https://example.org/watch?v=42&t=1"


@pytest.fixture
def world(tmp_path: Path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def app(world: TriageWorld) -> Flask:
    return create_app(world.config)


@pytest.fixture
def client(app: Flask, world: TriageWorld) -> FlaskClient:
    client = app.test_client()
    log_in(app, client, world.keyrings["omar"])
    return client


def directives(policy: str) -> dict[str, str]:
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {name: value for name, value in pairs}


def case_of(world: TriageWorld, report_id: str) -> int:
    world.session.expire_all()
    triage = world.session.get(ReportTriage, report_id)
    assert triage is not None
    return triage.case_id


def test_case_and_report_pages_allow_only_this_hosts_script_files(
    client: FlaskClient, world: TriageWorld
) -> None:
    report = world.add_report({"category": "fraud", "urls": [URL]})
    for path in (f"/cases/{case_of(world, report)}", f"/reports/{report}"):
        response = client.get(path + "?lang=en")
        assert response.status_code == 200, path
        policy = directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == "'self'", path
        assert policy["default-src"] == "'none'"
        # Everything else is as strict as on any other page.
        assert policy == {
            "default-src": "'none'",
            "script-src": "'self'",
            "style-src": "'self'",
            "img-src": "'self'",
            "form-action": "'self'",
            "frame-ancestors": "'none'",
            "base-uri": "'none'",
        }
        html = response.get_data(as_text=True)
        assert re.findall(r"<script[^>]*>", html) == [SCRIPT_TAG], path


def test_other_pages_keep_a_policy_under_which_no_script_runs(
    client: FlaskClient, world: TriageWorld
) -> None:
    world.add_report({"category": "fraud", "urls": [URL]})
    answers = [
        client.get("/cases"),
        client.get("/"),
        client.get("/audit"),
        client.get("/static/copy.js"),
        client.get(f"/reports/{'f' * 32}"),  # an error page from the report view
        client.get(f"/cases/{10**6}"),
    ]
    for response in answers:
        policy = response.headers["Content-Security-Policy"]
        assert "script-src" not in policy, response.request.path
        assert directives(policy)["default-src"] == "'none'"
        if response.mimetype == "text/html":
            assert "<script" not in response.get_data(as_text=True), response.request.path
    # The login page runs the security-key script, and only this host's own files.
    logged_out = client.application.test_client()
    login_policy = directives(logged_out.get("/login").headers["Content-Security-Policy"])
    assert login_policy["script-src"] == "'self'"
    assert login_policy["default-src"] == "'none'"


def test_the_copy_button_is_hidden_until_the_script_shows_it_and_speaks_the_page_language(
    client: FlaskClient, world: TriageWorld
) -> None:
    report = world.add_report({"category": "fraud", "urls": [URL, "javascript:alert(1)"]})
    html = client.get(f"/cases/{case_of(world, report)}?lang=fr").get_data(as_text=True)

    buttons = re.findall(r"<button[^>]*class=\"copy-button\"[^>]*>[^<]*</button>", html)
    assert len(buttons) == 2
    for index, button in enumerate(buttons, start=1):
        assert " hidden>" in button, "without JavaScript only the read-only field shows"
        assert 'type="button"' in button, "never submits a form"
        assert f'data-copy-from="address-{report}-{index}"' in button
        assert 'data-copied="Copié"' in button and ">Copier</button>" in button
    # The field stays, with the explicit warning, for a browser without JavaScript.
    assert f'id="address-{report}-1"' in html and "readonly" in html
    assert "N’ouvrez ces adresses qu’en dehors de ce serveur" in html
    assert 'href="https://example.org' not in html and 'href="javascript' not in html

    arabic = client.get(f"/reports/{report}?lang=ar").get_data(as_text=True)
    assert f'data-copy-from="address-{report}-1"' in arabic
    assert 'data-copied="نُسخ"' in arabic and ">نسخ</button>" in arabic


def test_no_officer_template_holds_inline_script_or_event_handlers() -> None:
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 10
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for tag, body in re.findall(r"(<script\b[^>]*>)(.*?)</script\s*>", text, re.S | re.I):
            assert body.strip() == "", f"inline script in {path}"
            assert re.search(r"\ssrc=\"\{\{ own_script\('[\w.-]+\.js'\) \}\}\"", tag), (
                f"{path}: a script must come from this host, through own_script(): {tag}"
            )
            assert " defer" in tag, f"{path}: {tag}"
        assert text.lower().count("<script") == text.lower().count("</script>"), path
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"event handler attribute in {path}"
        assert "javascript:" not in text.lower(), path
    using = [p for p in templates if "<script" in p.read_text(encoding="utf-8")]
    assert {p.relative_to(TEMPLATES).as_posix() for p in using} == {
        "cases/detail.html",
        "login.html",
        "account/security_keys.html",
    }


def test_the_script_file_is_served_as_javascript_from_this_host(client: FlaskClient) -> None:
    response = client.get("/static/copy.js")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    source = response.get_data(as_text=True)
    assert "navigator.clipboard.writeText" in source
    assert "button.hidden = false" in source
    # Nothing fetched, evaluated or sent anywhere.
    for forbidden in ("fetch(", "XMLHttpRequest", "eval(", "new Function", "http://", "https://"):
        assert forbidden not in source, forbidden
