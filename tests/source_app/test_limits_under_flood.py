"""Reporting stays open under abuse (issue 9, item 7): floods that once closed the door.

Before the fix, 120 empty POSTs from one client spent the submission bucket and every
report for everyone got a 429, and malformed codes spent the code-check bucket. Now a
bucket is spent only by a request that passed the cheap checks, text reports have
capacity that reports with files cannot take, and argon2id slots are reserved for new
reports.
"""

import io
from pathlib import Path
from typing import Any

from flask import Flask

from source_app import create_app
from source_app.config import SourceConfig
from source_app.host import EXTENSION_KEY, PublicHost
from tests.conftest import ReporterActions, source_environ


def app_with(source_data_dir: Path, **settings: str) -> Flask:
    return create_app(SourceConfig.from_env({**source_environ(source_data_dir), **settings}))


def test_a_flood_of_empty_and_invalid_posts_never_blocks_a_valid_report(
    source_data_dir: Path,
) -> None:
    app = app_with(source_data_dir, IBLAGH_SUBMISSIONS_PER_MINUTE="5")
    attacker = ReporterActions(app.test_client())
    token = attacker.csrf_token()  # the attacker has a session and a valid token
    for _ in range(40):
        empty = attacker.client.post("/report", data={}, content_type="multipart/form-data")
        assert empty.status_code == 400
    for _ in range(40):
        invalid = attacker.client.post(
            "/report",
            data={"csrf_token": token, "category": "terrorism"},  # no description
            content_type="multipart/form-data",
        )
        assert invalid.status_code == 400
    for _ in range(40):
        no_session = app.test_client().post("/report", data={"description": "x"})
        assert no_session.status_code == 400
    ReporterActions(app.test_client()).report()  # asserts the 200 and the code


def test_a_flood_of_malformed_codes_never_blocks_a_status_check(source_data_dir: Path) -> None:
    app = app_with(
        source_data_dir,
        IBLAGH_CODE_ATTEMPTS_PER_MINUTE="3",
        IBLAGH_CODE_ATTEMPTS_PER_SESSION="3",
    )
    code = ReporterActions(app.test_client()).report()
    attacker = ReporterActions(app.test_client())
    token = attacker.csrf_token("/status")
    for malformed in ["", "12", "x" * 30, "1234 5678", "٠" * 19] * 50:
        response = attacker.client.post("/status", data={"csrf_token": token, "code": malformed})
        assert response.status_code == 400
    assert ReporterActions(app.test_client()).status(code)[0] == 200
    # The flood did not spend the attacker's own session either: it is not a guesser.
    assert attacker.status(code)[0] == 200


def test_reports_with_files_cannot_take_the_capacity_of_text_reports(
    source_data_dir: Path,
) -> None:
    app = app_with(
        source_data_dir,
        IBLAGH_SUBMISSIONS_PER_MINUTE="2",
        IBLAGH_FILE_SUBMISSIONS_PER_MINUTE="1",
    )
    reporter = ReporterActions(app.test_client())
    reporter.report(files=[(b"%PDF-1.4 one", "one.pdf")])
    data: dict[str, Any] = reporter.report_form()
    data["attachments"] = [(io.BytesIO(b"%PDF-1.4 two"), "two.pdf")]
    refused = reporter.client.post("/report", data=data, content_type="multipart/form-data")
    assert refused.status_code == 429
    reporter.report()  # a text report still goes through
    reporter.report()


def test_a_report_gets_an_argon2_slot_while_code_checks_hold_all_theirs(
    source_data_dir: Path,
) -> None:
    app = app_with(
        source_data_dir,
        IBLAGH_ARGON2_CONCURRENCY="2",
        IBLAGH_ARGON2_RESERVED_FOR_REPORTS="1",
        IBLAGH_ARGON2_WAIT_SECONDS="0",
    )
    host: PublicHost = app.extensions[EXTENSION_KEY]
    code = ReporterActions(app.test_client()).report()
    # A flood of code checks in flight: it holds every slot code checks may use.
    held = host.limits.state.try_hold("argon2", 1, 60)
    assert held is not None
    busy_status, page = ReporterActions(app.test_client()).status(code)
    assert busy_status == 503 and "busy" in page
    ReporterActions(app.test_client()).report()  # the reserved slot takes the report
    host.limits.state.release("argon2", held)
    assert ReporterActions(app.test_client()).status(code)[0] == 200


def test_a_request_waits_for_an_argon2_slot_rather_than_being_refused(
    source_data_dir: Path,
) -> None:
    import threading

    app = app_with(source_data_dir, IBLAGH_ARGON2_CONCURRENCY="1", IBLAGH_ARGON2_WAIT_SECONDS="5")
    host: PublicHost = app.extensions[EXTENSION_KEY]
    held = host.limits.state.try_hold("argon2", 1, 60)
    assert held is not None
    threading.Timer(0.3, host.limits.state.release, ("argon2", held)).start()
    ReporterActions(app.test_client()).report()
