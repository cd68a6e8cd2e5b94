"""A case number beyond what the database stores is a 404, never a 500 (issue 9, finding 10).

The same for numbers and dates in forms and query strings: a digit ``int`` refuses
(``²``), a number past 64 bits, a date at the calendar's end are refused or ignored.
"""

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from journalist_app import create_app
from journalist_app.models import Case, ReportTriage
from journalist_app.row_ids import MAX_ROW_ID, row_id
from journalist_app.triage.ingest import index_pending
from tests.support.triage import TriageWorld, log_in, make_world

TOO_BIG = "9" * 25


@pytest.mark.parametrize(
    "path",
    [
        "/cases/99999999999999999999",
        "/cases/99999999999999999999/reply",
        "/cases/18446744073709551616/identity",
    ],
)
def test_an_out_of_range_case_number_is_not_found_not_a_crash(client, auth, path) -> None:
    auth.login()
    assert client.get(path).status_code == 404


def test_row_ids_are_decimal_digits_within_64_bits() -> None:
    assert row_id("14") == 14 and row_id(" 14 ") == 14
    assert row_id("\u0661\u0664") == 14  # Arabic-Indic digits, as int() reads them
    assert row_id(str(MAX_ROW_ID)) == MAX_ROW_ID
    for text in ["", "²", "1²", "-1", "1e3", "0x10", str(MAX_ROW_ID + 1), TOO_BIG, "9" * 5000]:
        assert row_id(text) is None, text


# Not ``app``/``client``: the test above logs in through conftest's host and its form.
@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def triage_app(world) -> Flask:
    return create_app(world.config)


def _supervisor_on_a_case(app: Flask, world: TriageWorld) -> tuple[FlaskClient, int, str]:
    report = world.add_report({"category": "fraud", "urls": ["https://a.example/"]})
    index_pending(world.session, world.store, world.supervisor)
    world.session.expire_all()
    case_id = world.session.get(ReportTriage, report).case_id
    client = app.test_client()
    log_in(app, client, world.supervisor)
    page = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token is not None
    return client, case_id, token.group(1)


@pytest.mark.parametrize("other_case", [TOO_BIG, str(MAX_ROW_ID + 1), "²", "-5"])
def test_merging_with_an_impossible_case_number_is_refused(triage_app, world, other_case) -> None:
    client, case_id, token = _supervisor_on_a_case(triage_app, world)

    response = client.post(
        f"/cases/{case_id}/merge",
        data={"merge-csrf_token": token, "merge-other_case": other_case},
    )

    assert response.status_code == 302
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Give the number of another case." in page


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "assign", "cases": "²"},
        {"action": "assign", "cases": TOO_BIG, "officer": TOO_BIG},
        {"action": "merge", "cases": "CASE", "target": TOO_BIG},
        {"action": "merge", "cases": "CASE", "target": "²"},
    ],
)
def test_bulk_actions_ignore_impossible_numbers(triage_app, world, fields) -> None:
    client, case_id, token = _supervisor_on_a_case(triage_app, world)
    data = {name: value.replace("CASE", str(case_id)) for name, value in fields.items()}

    response = client.post("/cases/bulk", data={"csrf_token": token, **data})

    assert response.status_code == 302
    world.session.expire_all()
    assert world.session.get(Case, case_id).status != "merged"


@pytest.mark.parametrize(
    "path",
    [
        "/audit?case=²",
        "/audit/export.csv?case=²",
        f"/audit?case={TOO_BIG}",
        "/cases?from=9999-12-31&to=9999-12-31",
        "/cases?to=9999-12-31",
    ],
)
def test_filters_with_impossible_values_are_ignored(triage_app, world, path) -> None:
    client, _case_id, _token = _supervisor_on_a_case(triage_app, world)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "end=9999-12-31",
        "start=9999-12-01&end=9999-12-31",
        "end=0001-01-01",
        "start=0001-01-01&end=0001-01-10",
    ],
)
def test_a_period_at_the_calendars_end_is_a_bad_request(triage_app, world, query) -> None:
    client, _case_id, _token = _supervisor_on_a_case(triage_app, world)
    for path in ["/stats", "/stats/figures.csv", "/stats/chart/by_kind.svg"]:
        assert client.get(f"{path}?{query}").status_code == 400, path
