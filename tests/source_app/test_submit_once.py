"""Submitting twice files once (issue 10, item 8): a one-time form token spent in the commit.

Reloading the receipt page ("Confirm form resubmission"), a double click, or the same
form reaching two replicas posts the same token again: exactly one report is stored,
and the second POST gets a page, in the reporter's language, saying it was already sent.
"""

import re
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from source_app import create_app
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.models import Submission
from tests.conftest import ReporterActions, source_environ

CODE = re.compile(r"<bdi>([0-9 ]{24})</bdi>")
TOKEN = re.compile(r'id="form_token" name="form_token" type="hidden" value="([^"]+)"')


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    return create_app(SourceConfig.from_env({**source_environ(source_data_dir), **settings}))


def stored_submissions(app: Flask) -> int:
    host: PublicHost = app.extensions[EXTENSION_KEY]
    with host.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Submission)) or 0)


def filled_form(reporter: ReporterActions) -> dict[str, Any]:
    """The report form as the page gave it: CSRF token and one-time token included."""
    page = reporter.client.get("/report").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, "the report form carries a one-time token"
    data = reporter.report_form()
    data["form_token"] = match.group(1)
    return data


def post(reporter: ReporterActions, data: dict[str, Any], lang: str = "fr") -> Any:
    return reporter.client.post(
        f"/report?lang={lang}", data=dict(data), content_type="multipart/form-data"
    )


def test_reloading_the_receipt_page_files_one_report_and_says_so(source_data_dir: Path) -> None:
    app = app_with(source_data_dir)
    reporter = ReporterActions(app.test_client())
    data = filled_form(reporter)
    first = post(reporter, data)
    assert first.status_code == 200 and CODE.search(first.get_data(as_text=True))
    again = post(reporter, data)  # the browser's "Confirm form resubmission"
    page = again.get_data(as_text=True)
    assert again.status_code == 409
    assert 'lang="fr"' in page and "Votre signalement a déjà été envoyé" in page
    assert not CODE.search(page), "no second code"
    assert stored_submissions(app) == 1
    for lang, title in [("ar", "سبق أن أُرسل بلاغكم"), ("es", "Su denuncia ya fue enviada")]:
        assert title in post(reporter, data, lang).get_data(as_text=True)
    assert stored_submissions(app) == 1


def test_a_double_click_files_exactly_one_report(source_data_dir: Path) -> None:
    app = app_with(source_data_dir)
    reporter = ReporterActions(app.test_client())
    data = filled_form(reporter)
    cookie = reporter.client.get_cookie("session")
    assert cookie is not None
    statuses: list[int] = []

    def click() -> None:
        client = app.test_client()
        client.set_cookie("session", cookie.value)
        statuses.append(post(ReporterActions(client), data).status_code)

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert stored_submissions(app) == 1


def test_the_same_form_sent_to_another_replica_is_not_filed_again(source_data_dir: Path) -> None:
    first, second = app_with(source_data_dir), app_with(source_data_dir)  # one database
    reporter = ReporterActions(first.test_client())
    data = filled_form(reporter)
    assert post(reporter, data).status_code == 200
    other = second.test_client()
    cookie = reporter.client.get_cookie("session")
    assert cookie is not None
    other.set_cookie("session", cookie.value)
    assert post(ReporterActions(other), data).status_code == 409
    assert stored_submissions(first) == 1


def test_a_new_form_files_a_new_report(source_data_dir: Path) -> None:
    app = app_with(source_data_dir)
    reporter = ReporterActions(app.test_client())
    assert post(reporter, filled_form(reporter)).status_code == 200
    assert post(reporter, filled_form(reporter)).status_code == 200
    assert stored_submissions(app) == 2


def test_a_refused_attempt_does_not_spend_the_token(source_data_dir: Path) -> None:
    app = app_with(source_data_dir, IBLAGH_ARGON2_CONCURRENCY="1", IBLAGH_ARGON2_WAIT_SECONDS="0")
    host: PublicHost = app.extensions[EXTENSION_KEY]
    reporter = ReporterActions(app.test_client())
    data = filled_form(reporter)
    invalid = post(reporter, {**data, "description": ""})
    assert invalid.status_code == 400
    assert data["form_token"] in invalid.get_data(as_text=True), "kept on the redisplayed form"
    held = host.limits.state.try_hold("argon2", 1, 60)
    assert held is not None
    assert post(reporter, data).status_code == 503  # busy: nothing stored, token unspent
    host.limits.state.release("argon2", held)
    assert post(reporter, data).status_code == 200
    assert stored_submissions(app) == 1


def test_a_follow_up_sent_twice_is_added_once(source_data_dir: Path) -> None:
    app = app_with(source_data_dir)
    reporter = ReporterActions(app.test_client())
    code = reporter.report()
    page = reporter.client.get("/followup").get_data(as_text=True)
    match = TOKEN.search(page)
    assert match, "the follow-up form carries a one-time token"
    data = {
        "csrf_token": reporter.csrf_token("/followup"),
        "form_token": match.group(1),
        "code": code,
        "message": "The channel moved.",
    }

    def send() -> Any:
        return reporter.client.post(
            "/followup?lang=es", data=dict(data), content_type="multipart/form-data"
        )

    assert send().status_code == 200
    again = send()
    assert again.status_code == 409
    assert "Su mensaje ya fue enviado" in again.get_data(as_text=True)
    assert stored_submissions(app) == 2  # the report and one follow-up
