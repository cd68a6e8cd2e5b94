"""The referral page and the queue, through the web app: proposal, override reason,
and the referral deadlines of each queue row (issue 12, items 2, 6 and 10)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from journalist_app import clock, create_app
from journalist_app.models import Case, Referral
from tests.journalist_app.conftest import csrf_token
from tests.support.referral import partner_keys, ready_unit, referable_case
from tests.support.triage import log_in, make_world


@pytest.fixture
def unit(tmp_path, officer_database_url: str):
    for world in make_world(tmp_path, officer_database_url or None):
        ready_unit(world, partner_keys())
        yield world


@pytest.fixture
def client(unit):
    app = create_app(unit.config)
    client = app.test_client()
    log_in(app, client, unit.analyst)
    return client


def _selected(html: str, select_id: str) -> str:
    block = html.split(f'id="{select_id}"', 1)[1].split("</select>", 1)[0]
    match = re.search(r'<option value="([^"]+)"\s+selected', block)
    return match.group(1) if match else ""


def _build(client, case_id: int, **fields: str):
    page = client.get(f"/cases/{case_id}/referral").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "police": _selected(page, "r-police"),
        "prosecutor": _selected(page, "r-prosecutor"),
        "qualification": "threats",
        **fields,
    }
    return client.post(f"/cases/{case_id}/referral?lang=en", data=data, follow_redirects=True)


def test_the_page_proposes_the_competent_unit_and_accepting_it_builds(unit, client) -> None:
    case_id, _ = referable_case(unit)
    page = client.get(f"/cases/{case_id}/referral?lang=en").get_data(as_text=True)
    assert _selected(page, "r-police") == "brpj-rabat"
    assert _selected(page, "r-prosecutor") == "pgr-rabat"
    assert "Brigade régionale de la police judiciaire de Rabat — proposed" in page

    html = _build(client, case_id).get_data(as_text=True)
    referral = unit.session.scalars(select(Referral)).one()
    assert f"Packet {referral.reference} is built" in html
    assert (referral.police_id, referral.prosecutor_id, referral.override_reason) == (
        "brpj-rabat",
        "pgr-rabat",
        "",
    )


def test_another_unit_than_proposed_needs_a_reason_shown_on_the_page(unit, client) -> None:
    case_id, _ = referable_case(unit)
    refused = _build(client, case_id, police="brpj-casablanca").get_data(as_text=True)
    assert "You chose other recipients than the proposed ones: say why" in refused
    assert unit.session.scalars(select(Referral)).all() == []

    reason = "The suspect lives in Casablanca; the Rabat brigade asked us to send it there."
    html = _build(client, case_id, police="brpj-casablanca", override_reason=reason)
    referral = unit.session.scalars(select(Referral)).one()
    assert referral.police_id == "brpj-casablanca" and referral.override_reason == reason
    assert "Other recipients than proposed. Reason:" in html.get_data(as_text=True)
    assert reason in html.get_data(as_text=True)


def test_the_queue_shows_each_referral_deadline_and_what_is_overdue(
    unit, client, monkeypatch
) -> None:
    case_id, _ = referable_case(unit, category="terrorism", territory="04.421")
    case = unit.session.get(Case, case_id)
    refer_due = case.received + timedelta(hours=6)  # the default directory: 6 h for terrorism
    monkeypatch.setattr(clock, "source", lambda: case.received + timedelta(hours=1))
    row = _row(client.get("/cases?lang=en&status=all").get_data(as_text=True), case_id)
    assert "Refer by" in row and "Overdue" not in row.split("Refer by", 1)[1]

    monkeypatch.setattr(clock, "source", lambda: refer_due + timedelta(minutes=1))
    queue = client.get("/cases?lang=en&status=all").get_data(as_text=True)
    assert "referral-deadline sla-overdue" in _row(queue, case_id)
    assert "1 case is past its deadline to be referred" in queue

    html = _build(
        client,
        case_id,
        police="bnpj",
        prosecutor="pgr-rabat-terrorism",
        qualification="terrorism-apology",
    ).get_data(as_text=True)
    referral = unit.session.scalars(select(Referral)).one()
    assert referral.reference in html
    page = client.get(f"/cases/{case_id}/referral").get_data(as_text=True)
    client.post(f"/referrals/{referral.reference}/send", data={"csrf_token": csrf_token(page)})
    unit.session.refresh(referral)
    assert referral.ack_due_at is not None
    queue = client.get("/cases?lang=en&status=all").get_data(as_text=True)
    row = _row(queue, case_id)
    assert "Acknowledgement due" in row and "Refer by" not in row
    assert "past its deadline to be referred" not in queue

    monkeypatch.setattr(clock, "source", lambda: referral.ack_due_at + timedelta(minutes=1))
    queue = client.get("/cases?lang=en&status=all").get_data(as_text=True)
    assert "referral-deadline sla-overdue" in _row(queue, case_id)
    assert "1 referral is waiting for its acknowledgement past the deadline" in queue
    assert referral.reference in queue


def _row(html: str, case_id: int) -> str:
    start = html.index(f'href="/cases/{case_id}"')
    return html[start : html.index("</tr>", start)]
