"""Across the air gap too, a refused submission never blocks newer ones (issue 8).

The public host (source_app itself) holds submissions over the protocol's attachment
ceiling ahead of a valid report. The export lists past them and carries them as listed,
without blobs; the import refuses each with the same parser as the online sync, records
why, and stores the valid report.
"""

import hashlib
import secrets
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from nacl.public import PrivateKey
from sqlalchemy import select

from crypto.sync_api import MAX_ATTACHMENTS, ListedBlob, ListedSubmission, listing_item
from journalist_app.models import OutboxItem, RefusedSubmission, Report
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.conftest import source_environ
from tests.support.airgap import OFFICER, AirGap, air_gap
from tests.support.sync import hold_submission

OVER_THE_CEILING = {"body": b"b"} | {f"attachment-{n}": b"a" for n in range(1, MAX_ATTACHMENTS + 2)}


@pytest.fixture
def gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    with air_gap(tmp_path, capsys) as deployment:
        yield deployment


def hold_over_the_ceiling(gap: AirGap) -> str:
    """A submission the public host holds with one attachment more than the protocol allows."""
    listed = ListedSubmission(
        id=secrets.token_hex(16),
        kind="report",
        reporter_id=secrets.token_hex(16),
        reporter_public_key=bytes(PrivateKey.generate().public_key),
        received_hour=datetime(2026, 11, 28, 18),
        blobs=tuple(
            ListedBlob(name, len(data), hashlib.sha256(data).hexdigest())
            for name, data in OVER_THE_CEILING.items()
        ),
    )
    app = create_sync_app(SourceConfig.from_env(source_environ(gap.source_dir)))
    hold_submission(app, listing_item(listed), OVER_THE_CEILING)
    return listed.id


def test_refused_submissions_ahead_of_a_report_are_carried_recorded_and_skipped(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = [hold_over_the_ceiling(gap) for _ in range(3)]
    gap.reporter.report(description="the newer report")

    path = gap.work / "carry" / "in-1.batch"
    # Pages of two: the first page holds refused submissions only.
    exported = gap.connected.run(
        capsys, "export", "--officer", OFFICER, "--out", str(path), "--limit", "2"
    )
    assert exported.code == 0, exported.err
    assert "1 submissions" in exported.out and "3 refused" in exported.out

    imported = gap.offline.run(capsys, "import", "--officer", OFFICER, str(path))
    assert imported.code == 0, imported.err
    assert "1 new" in imported.out and "1 acknowledgements queued" in imported.out
    assert "3 refused submissions left on the public host" in imported.out
    with gap.offline.session() as session:
        [report] = session.scalars(select(Report)).all()
        assert report.id not in refused
        rows = {row.submission_id: row for row in session.scalars(select(RefusedSubmission))}
        assert set(rows) == set(refused)
        assert {(row.reason, row.source) for row in rows.values()} == {
            ("too_many_attachments", "batch")
        }
        # Refused: no acknowledgement owed, so the public host keeps them.
        acks = {item.item_id for item in session.scalars(select(OutboxItem))}
        assert acks == {report.id}
