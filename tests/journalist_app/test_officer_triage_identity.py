from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import func, select

from journalist_app.errors import PermissionDenied
from journalist_app.models import CaseEvent, IdentityReveal, ReportTriage
from journalist_app.models.audit import AuditEntry
from journalist_app.triage.errors import CaseNotFound, RevealRefused
from journalist_app.triage.identity import reveal_identity, reveals_of
from tests.support.triage import TriageWorld, make_world

NOW = datetime(2026, 11, 29, 9)
REASON = "The prosecutor asked to hear the witness in case 2026/114."
NAME = "Nadia Benali"


@pytest.fixture
def world(tmp_path, officer_database_url: str) -> Iterator[TriageWorld]:
    yield from make_world(tmp_path, officer_database_url or None)


@pytest.fixture
def report(world) -> str:
    return world.add_report({"category": "threat_to_life"}, identity=NAME)


def _case(world: TriageWorld, report_id: str) -> int:
    return world.session.get(ReportTriage, report_id).case_id


def _logged(world: TriageWorld) -> tuple[int, int, int]:
    count = func.count()
    return (
        world.session.scalar(select(count).select_from(IdentityReveal)),
        world.session.scalar(
            select(count).select_from(CaseEvent).where(CaseEvent.action == "identity.revealed")
        ),
        world.session.scalar(
            select(count).select_from(AuditEntry).where(AuditEntry.action == "identity.revealed")
        ),
    )


def test_a_supervisor_with_a_reason_reveals_and_it_is_logged_three_ways(world, report) -> None:
    case_id = _case(world, report)

    identity = reveal_identity(
        world.session, world.store, world.supervisor, case_id, report, REASON, NOW
    )

    assert identity.full_name == NAME
    assert _logged(world) == (1, 1, 1)
    [reveal] = reveals_of(world.session, case_id)
    assert (reveal.officer, reveal.report_id, reveal.reason, reveal.at) == (
        "sara",
        report,
        REASON,
        NOW,
    )
    entry = world.session.scalar(select(AuditEntry).where(AuditEntry.action == "identity.revealed"))
    assert entry.actor == "sara" and entry.target == f"case:{case_id}"
    assert NAME not in entry.details, "the log holds who and why, never the identity"


def test_an_analyst_cannot_reveal(world, report) -> None:
    with pytest.raises(PermissionDenied):
        reveal_identity(
            world.session, world.store, world.analyst, _case(world, report), report, REASON, NOW
        )
    assert _logged(world) == (0, 0, 0)


@pytest.mark.parametrize("reason", ["", "because", "    padded      short     ", "x" * 2001])
def test_a_reveal_needs_a_real_reason(world, report, reason) -> None:
    with pytest.raises(RevealRefused):
        reveal_identity(
            world.session, world.store, world.supervisor, _case(world, report), report, reason, NOW
        )
    assert _logged(world) == (0, 0, 0)


def test_nothing_to_reveal_for_an_anonymous_reporter(world) -> None:
    anonymous = world.add_report({"category": "fraud"})
    with pytest.raises(RevealRefused, match="anonymous"):
        reveal_identity(
            world.session, world.store, world.supervisor, _case(world, anonymous), anonymous, REASON
        )


def test_a_reveal_is_for_a_report_of_the_case_named(world, report) -> None:
    other = world.add_report({"category": "fraud"})
    with pytest.raises(CaseNotFound):
        reveal_identity(
            world.session, world.store, world.supervisor, _case(world, other), report, REASON, NOW
        )
    assert _logged(world) == (0, 0, 0)
