"""Identity reveals are derived from the audit chain: the table cannot be rewritten alone."""

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import text

from journalist_app import audit
from journalist_app.audit_derived import check_reveals
from journalist_app.models import ReportTriage
from journalist_app.triage.identity import reveal_identity
from tests.support.triage import TriageWorld, make_world

NOW = datetime(2026, 11, 29, 9)
REASON = "The prosecutor asked to hear the witness in case 2026/114."


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def revealed(world) -> int:
    report = world.add_report({"category": "threat_to_life"}, identity="Nadia Benali")
    case_id = world.session.get(ReportTriage, report).case_id
    reveal_identity(world.session, world.store, world.supervisor, case_id, report, REASON, NOW)
    return case_id


def test_reveals_match_the_audit_log(world, revealed) -> None:
    assert check_reveals(world.session) == ""


def test_a_reveal_whose_officer_was_rewritten_in_the_table_is_caught(world, revealed) -> None:
    world.session.execute(text("UPDATE identity_reveals SET officer = 'someone_else'"))
    world.session.commit()
    problem = check_reveals(world.session)
    assert "1 recorded reveal(s) not in the audit log (someone_else" in problem
    assert "not recorded as such (sara" in problem


def test_a_reveal_deleted_from_the_table_is_caught(world, revealed) -> None:
    world.session.execute(text("DELETE FROM identity_reveals"))
    world.session.commit()
    assert "1 reveal(s) of the audit log not recorded as such" in check_reveals(world.session)


def test_an_identity_opened_then_refused_as_unbound_needs_no_row(world, revealed) -> None:
    # As triage/identity.py logs it: opened (identity.revealed), then refused, no row.
    target, details = f"case:{revealed}", {"report": "f" * 32}
    audit.record(world.session, "sara", audit.Action.IDENTITY_REVEALED, target, details)
    audit.record(world.session, "sara", audit.Action.IDENTITY_BINDING_REFUSED, target, details)
    world.session.commit()
    assert check_reveals(world.session) == ""
    audit.record(world.session, "sara", audit.Action.IDENTITY_REVEALED, target, details)
    world.session.commit()
    assert "1 reveal(s) of the audit log not recorded as such" in check_reveals(world.session)
