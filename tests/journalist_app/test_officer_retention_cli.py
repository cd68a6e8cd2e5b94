"""``iblagh-officer purge``, ``hold`` and ``retention`` from the command line, by time travel."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from journalist_app import clock
from journalist_app.cli.main import main
from journalist_app.database import make_engine, make_session_factory
from journalist_app.models import AuditEntry, Case
from journalist_app.triage.events import TriageAction, record_case_event

PASSPHRASE = "a passphrase for the command line"
T0 = datetime(2026, 12, 1, 10, 0)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_dir = tmp_path / "officer"
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(data_dir))
    monkeypatch.setenv("IBLAGH_KDF", "fast")
    monkeypatch.setenv("IBLAGH_OFFICER_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("IBLAGH_DATABASE_URL", raising=False)
    monkeypatch.setattr(clock, "source", lambda: T0)
    assert main(["keys", "init", "--officer", "alice", "--public-out", str(tmp_path / "pub")]) == 0
    return data_dir


def _closed_case(data_dir: Path, category: str, reason: str) -> int:
    """A case closed at T0, as the workflow leaves it (no report: the purge of reports and
    files is tested in test_officer_retention.py)."""
    engine = make_engine(f"sqlite:///{data_dir}/officer.sqlite3")
    with make_session_factory(engine)() as session:
        case = Case(
            priority=3,
            category=category,
            received=T0 - timedelta(days=1),
            sla_due_at=T0,
            status="closed",
            is_open=False,
            close_reason=reason,
            updated_at=T0,
        )
        session.add(case)
        session.flush()
        # As the workflow writes it: the history event with its audit entry.
        record_case_event(
            session,
            case.id,
            "alice",
            TriageAction.STATUS_CHANGED,
            {"from": "triaged", "to": "closed", "reason": reason},
            now=T0,
        )
        session.commit()
        case_id = case.id
    engine.dispose()
    return case_id


def test_purge_lists_then_destroys_due_cases_and_the_chain_verifies(
    data_dir, monkeypatch, capsys
) -> None:
    spam = _closed_case(data_dir, "fraud", "duplicate")
    held = _closed_case(data_dir, "child_abuse", "duplicate")
    capsys.readouterr()
    monkeypatch.setattr(clock, "source", lambda: T0 + timedelta(days=31))

    assert main(["retention", "--officer", "alice", "--case", str(held)]) == 0
    assert "on legal hold" in capsys.readouterr().out
    assert main(["purge", "--officer", "alice", "--dry-run"]) == 0
    listed = capsys.readouterr().out
    assert f"case {spam}\t" in listed and f"case {held}\t" not in listed
    assert "1 case(s) due" in listed

    assert main(["purge", "--officer", "alice"]) == 0
    assert "1 case(s) purged" in capsys.readouterr().out
    assert main(["audit", "verify"]) == 0

    assert main(["hold", "--officer", "alice", "--case", str(held), "--lift", "--reason", "x"]) == 1
    reason = "no proceedings, confirmed by the prosecutor"
    assert (
        main(["hold", "--officer", "alice", "--case", str(held), "--lift", "--reason", reason]) == 0
    )
    assert main(["purge", "--officer", "alice"]) == 0

    engine = make_engine(f"sqlite:///{data_dir}/officer.sqlite3")
    with make_session_factory(engine)() as session:
        assert session.scalars(select(Case.id)).all() == []
        targets = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "case.purged")
        ).all()
    engine.dispose()
    assert targets == [f"case:{spam}", f"case:{held}"]
