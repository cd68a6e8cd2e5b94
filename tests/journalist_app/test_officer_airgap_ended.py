"""Over the air gap, a purged report's reporter reads that handling ended (issue 14).

The offline host purges a case; its "handling ended" notice leaves in the next outbound
batch like a reply, the connected machine posts it, the reporter's status page says so,
and the receipt in the next inbound batch removes the notice from the offline host (as
the online sync does once it pushed one).
"""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from journalist_app.models import Case, EndedNotice, OutboxItem, Report, ReportTriage
from journalist_app.retention.purge import purge_due
from journalist_app.retention.rules import load_rules
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.workflow import change_status
from tests.support.airgap import OFFICER, AirGap, air_gap

ENDED = "Handling ended: the unit no longer keeps this report"


@pytest.fixture
def gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    with air_gap(tmp_path, capsys) as deployment:
        yield deployment


def _carry_in(gap: AirGap, capsys: pytest.CaptureFixture[str], name: str) -> str:
    path = gap.work / "carry" / name
    exported = gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(path))
    assert exported.code == 0, exported.err
    imported = gap.offline.run(capsys, "import", "--officer", OFFICER, str(path))
    assert imported.code == 0, imported.err
    return imported.out


def _carry_out(gap: AirGap, capsys: pytest.CaptureFixture[str], name: str) -> tuple[str, str]:
    path = gap.work / "carry" / name
    written = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(path))
    assert written.code == 0, written.err
    uploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(path))
    assert uploaded.code == 0, uploaded.err
    return written.out, uploaded.out


def test_a_purge_on_the_offline_host_reaches_the_reporter_through_the_batches(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    code = gap.reporter.report(description="Une page d'arnaque.", category="fraud")
    _carry_in(gap, capsys, "in-1.batch")
    with gap.offline.session() as session:
        keyring = gap.offline.keyring(session)
        index_pending(session, LocalBlobStore(gap.offline.data_dir), keyring)
        [report_id] = session.scalars(select(Report.id)).all()
        case_id = session.get(ReportTriage, report_id).case_id
        change_status(session, keyring, case_id, "triaged")
        change_status(session, keyring, case_id, "closed", "not_illegal")
        later = session.get(Case, case_id).updated_at + timedelta(days=400)
        result = purge_due(session, keyring, gap.offline.data_dir, load_rules(), now=later)
        assert (result.cases, result.notices) == (1, 1)

    written, uploaded = _carry_out(gap, capsys, "out-1.batch")

    assert "1 'handling ended' notices" in written
    assert "replies delivered" in uploaded
    status, page = gap.reporter.status(code)
    assert status == 200 and ENDED in page
    # Exported once: the next outbound batch does not carry it again.
    again, _ = _carry_out(gap, capsys, "out-2.batch")
    assert "notices" not in again
    # The receipt comes back and the offline host forgets the notice.
    closed = _carry_in(gap, capsys, "in-2.batch")
    assert "1 'handling ended' notices done" in closed
    with gap.offline.session() as session:
        assert session.scalar(select(func.count()).select_from(EndedNotice)) == 0
        assert session.scalar(select(func.count()).where(OutboxItem.kind == "notice")) == 0
