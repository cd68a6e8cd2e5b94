"""The reporter's page after the unit purged the report: "handling ended" (issue 14, 5)."""

from pathlib import Path

import pytest
from flask import Flask

from crypto.encoding import b64decode
from tests.conftest import ReporterActions, UnitKeys
from tests.source_app.test_followup import reply
from tests.support.pulled import OfficerView


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> OfficerView:
    return OfficerView(source_data_dir, unit_keys)


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "Handling ended: the unit no longer keeps this report"),
        ("fr", "Traitement terminé"),
        ("ar", "انتهت المعالجة"),
        ("es", "Tramitación terminada"),
    ],
)
def test_the_status_page_says_handling_ended_in_every_language(
    reporter: ReporterActions, officer: OfficerView, lang: str, words: str
) -> None:
    code = reporter.report()
    [submission] = officer.client.pending()
    key = b64decode(submission["reporter_public_key"], length=32)
    reply(officer, submission["reporter_id"], key, status="closed", reason="not_illegal")
    reply(officer, submission["reporter_id"], key, status="ended")
    data = {"csrf_token": reporter.csrf_token("/status"), "code": code}
    response = reporter.client.post(f"/status?lang={lang}", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    current = page.split('class="status"', 1)[1].split("</p>", 1)[0]
    assert words in current
