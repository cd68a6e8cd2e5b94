"""The short form of the crash-safety suite (docs/reliability.md, "Crash safety"):
ten SIGKILLs per target. ``make soak`` runs a hundred (tests/crash/run.py).

docs/invariants.md, 4: a receipt code means a committed, decryptable report, and a crash
never leaves half a report visible; on the officer's side, nothing acknowledged to the
public host is lost and nothing half-stored is visible.
"""

from pathlib import Path

import pytest

from tests.crash import planted_sync
from tests.crash.figures import Figures, table
from tests.crash.officer import crash_import, crash_sync
from tests.crash.opened import HalfReport, open_report
from tests.crash.public_host import UnitKeys, check_ledger, crash_public_host
from tests.crash.reporter import Filed, reporter_secrets, seal_report
from tests.crash.run import SHORT_REPORTS

KILLS = 10
SEED = 1


def test_the_checks_count_a_lost_receipt_a_missing_part_and_a_code_that_opens_nothing() -> None:
    """The checks themselves, on reports sealed here: each breach is counted."""
    keys = UnitKeys()
    filed = Filed(0, "sealed-files", (b"evidence",), identified=True)
    code, secrets = reporter_secrets(derive=True)
    filed.code, filed.outcome = code, "shown"
    filed.reporter_key = bytes(secrets.private_key.public_key)
    sealed = seal_report(keys.recipient_set, filed, secrets)
    blobs = dict(sealed.documents + sealed.attachments)
    whole = open_report(blobs, [keys.intake], [keys.identity])
    assert (whole.serial, whole.attachments, whole.identified) == (0, 1, True)
    without_file = {name: blob for name, blob in blobs.items() if name != "attachment-1"}
    with pytest.raises(HalfReport, match="the body names"):
        open_report(without_file, [keys.intake], [keys.identity])
    other = seal_report(keys.recipient_set, filed, reporter_secrets(derive=False)[1])
    with pytest.raises(HalfReport, match="bound to"):
        open_report({**blobs, "identity": other.documents[1][1]}, [keys.intake], [keys.identity])

    lost = Filed(1, "sealed-text", (), identified=False, code=code, outcome="shown")
    figures = Figures("checks", 0)
    check_ledger([filed, lost], [whole], figures)
    assert (figures.shown, figures.lost, figures.decrypt_failures) == (2, 1, 0)
    filed.reporter_key = bytes(reporter_secrets(derive=False)[1].private_key.public_key)
    figures = Figures("checks", 0)
    check_ledger([filed], [whole], figures)
    assert figures.decrypt_failures == 1


@pytest.mark.slow
def _passed(figures: Figures) -> None:
    print(table([figures]))
    assert figures.kills == KILLS
    assert figures.failures == [], "\n".join(figures.failures)
    assert figures.shown > 0


def test_a_public_host_killed_while_taking_reports_loses_no_receipt_and_shows_no_half_report(
    tmp_path: Path,
) -> None:
    figures = crash_public_host(tmp_path, KILLS, SEED, say=print)
    _passed(figures)
    assert figures.leftovers_removed > 0, "no kill left anything for recovery: none hit a write"


@pytest.mark.slow
def test_an_officer_sync_killed_anywhere_loses_nothing_acknowledged_and_stores_once(
    tmp_path: Path,
) -> None:
    _passed(crash_sync(tmp_path, KILLS, SEED, SHORT_REPORTS, say=print))


@pytest.mark.slow
def test_an_air_gap_import_killed_anywhere_loses_nothing_and_stores_once(
    tmp_path: Path,
) -> None:
    _passed(crash_import(tmp_path, KILLS, SEED, SHORT_REPORTS, say=print))


@pytest.mark.slow
def test_the_harness_finds_a_sync_that_commits_a_report_before_its_blobs(tmp_path: Path) -> None:
    """A planted bug (tests/crash/planted_sync.py): the harness must report half a report."""
    figures = crash_sync(tmp_path, KILLS, SEED, 20, say=print, plant=planted_sync.plant)
    assert figures.half > 0, figures.failures
    assert any("visible half-stored" in failure for failure in figures.failures)
