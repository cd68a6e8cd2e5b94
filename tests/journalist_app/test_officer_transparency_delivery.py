"""A released quarter reaches the public host through the channels the officer host already
uses (issue 14, item 3): the online sync and the air-gap outbound batch. The public host
then serves every page without script, with no count under the threshold and the noisy
figures of the release; each page is delivered once and audited.

The public host is source_app itself (its sync listener on 127.0.0.1, its pages through
Flask's test client); the officer hosts run the real ``iblagh-officer`` commands.
"""

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from journalist_app.models import AuditEntry, Case, OutboxItem
from journalist_app.transparency.delivery import DELIVERED, KIND, outbox_folder
from journalist_app.transparency.release import Quarter, true_counts
from tests.support.airgap import OFFICER, AirGap, Host, air_gap

QUARTER = "2026-Q3"
LANGUAGES = ("ar", "fr", "en", "es")
PAGES = sorted(f"{QUARTER}.{lang}.{kind}" for lang in LANGUAGES for kind in ("html", "pdf"))
THRESHOLD = 10


@pytest.fixture
def gap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[AirGap]:
    with air_gap(tmp_path, capsys) as deployment:
        with deployment.offline.session() as session:
            start = Quarter.parse(QUARTER).start
            for category, count, status, reason in (
                ("fraud", 60, "closed", "not_illegal"),
                ("sextortion", 25, "referred", None),
                ("terrorism", 3, "new", None),  # a small cell: never printed as a number
            ):
                for n in range(count):
                    received = start + timedelta(days=1, hours=n)
                    session.add(
                        Case(
                            priority=3,
                            category=category,
                            received=received,
                            sla_due_at=received,
                            status=status,
                            is_open=status == "new",
                            close_reason=reason,
                        )
                    )
            session.commit()
        yield deployment


def _release(gap: AirGap, capsys: pytest.CaptureFixture[str]) -> str:
    out = gap.work / "report"
    made = gap.offline.run(
        capsys, "transparency", "--officer", OFFICER, "--quarter", QUARTER, "--out", str(out)
    )
    assert made.code == 0, made.err
    return made.out


def _check_served(gap: AirGap) -> None:
    """Every page served, static, under the strict policy, with the release's noisy counts
    and no count under the threshold."""
    stored = json.loads((gap.offline.data_dir / "transparency" / f"{QUARTER}.json").read_text())
    with gap.offline.session() as session:
        exact_categories, exact_outcomes = true_counts(session, Quarter.parse(QUARTER))
    # The noise is applied: the published figures are not the exact ones.
    assert (stored["categories"], stored["outcomes"]) != (exact_categories, exact_outcomes)
    client = gap.reporter.client
    for language in LANGUAGES:
        answer = client.get(f"/transparency/{QUARTER}.{language}.html")
        assert answer.status_code == 200 and answer.mimetype == "text/html"
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        page = answer.get_data(as_text=True)
        assert "<script" not in page.lower() and not re.search(r"\son\w+=", page)
        for cell in re.findall(r"<(?:td|dd)>([^<]*)</(?:td|dd)>", page):
            figure = cell.replace("\u202f", "").replace("\u00a0", "")
            if figure.isdigit():
                assert int(figure) >= THRESHOLD, (language, cell)
        fraud = stored["categories"]["fraud"]
        row = re.search(r'<tr data-key="fraud">.*?</tr>', page, re.S)
        assert row is not None
        if fraud >= THRESHOLD:
            assert f"<td>{fraud}</td>" in row.group(0), "not the release's noisy count"
        terrorism = re.search(r'<tr data-key="terrorism">.*?</tr>', page, re.S)
        assert terrorism is not None and not re.search(r"<td>[0-9]</td>", terrorism.group(0))
        pdf = client.get(f"/transparency/{QUARTER}.{language}.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert sorted(p.name for p in (gap.source_dir / "transparency").iterdir()) == PAGES


def _deliveries(host: Host) -> list[tuple[str, str]]:
    with host.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == DELIVERED))
        return sorted((e.target, json.loads(e.details)["via"]) for e in entries)


def _queued(host: Host) -> list[str]:
    with host.session() as session:
        rows = session.scalars(
            select(OutboxItem).where(OutboxItem.kind == KIND, OutboxItem.confirmed_at.is_(None))
        )
        return sorted(row.item_id for row in rows)


def test_a_released_quarter_is_published_by_the_next_sync_once(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    released = _release(gap, capsys)
    assert "8 pages queued for the public host" in released
    assert _queued(gap.offline) == PAGES
    gap.offline.env["IBLAGH_SYNC_URL"] = gap.sync_url

    synced = gap.offline.run(capsys, "sync", "--officer", OFFICER)

    assert synced.code == 0, synced.err
    assert "8 transparency pages published" in synced.out
    _check_served(gap)
    assert _queued(gap.offline) == []
    assert list(outbox_folder(gap.offline.data_dir).iterdir()) == []
    assert _deliveries(gap.offline) == [(f"page:{name}", "sync") for name in PAGES]
    # Sent once: neither the next sync nor a second release sends them again.
    again = gap.offline.run(capsys, "sync", "--officer", OFFICER)
    assert again.code == 0 and "transparency" not in again.out
    assert "queued" not in _release(gap, capsys)
    assert len(_deliveries(gap.offline)) == len(PAGES)


def test_a_page_the_public_host_refuses_stays_queued_and_the_rest_is_published(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(gap, capsys)
    # Someone with the officer host's disk slips a script into a queued page.
    queued = outbox_folder(gap.offline.data_dir) / f"{QUARTER}.en.html"
    queued.write_text(
        queued.read_text("utf-8").replace("<h1>", "<script>alert(1)</script><h1>"), "utf-8"
    )
    gap.offline.env["IBLAGH_SYNC_URL"] = gap.sync_url

    synced = gap.offline.run(capsys, "sync", "--officer", OFFICER)

    assert synced.code == 0, synced.err
    assert "7 transparency pages published" in synced.out
    assert "1 transparency pages refused by the public host" in synced.out
    assert gap.reporter.client.get(f"/transparency/{QUARTER}.en.html").status_code == 404
    assert gap.reporter.client.get(f"/transparency/{QUARTER}.fr.html").status_code == 200
    assert _queued(gap.offline) == [f"{QUARTER}.en.html"]
    assert (f"page:{QUARTER}.en.html", "sync") not in _deliveries(gap.offline)
    # Released again: the waiting page is rendered afresh, and the next sync publishes it.
    assert "1 pages queued for the public host" in _release(gap, capsys)
    synced = gap.offline.run(capsys, "sync", "--officer", OFFICER)
    assert synced.code == 0 and "1 transparency pages published" in synced.out
    _check_served(gap)
    assert _queued(gap.offline) == []


def test_an_air_gapped_unit_publishes_through_the_outbound_batch(
    gap: AirGap, capsys: pytest.CaptureFixture[str]
) -> None:
    _release(gap, capsys)
    batch = gap.work / "carry" / "out-1.batch"

    written = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(batch))
    assert written.code == 0, written.err
    assert "8 transparency pages" in written.out
    uploaded = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(batch))
    assert uploaded.code == 0, uploaded.err
    assert "8 transparency pages published" in uploaded.out

    _check_served(gap)
    # The same batch uploaded again is a replay: refused, nothing changes.
    replayed = gap.connected.run(capsys, "upload", "--officer", OFFICER, str(batch))
    assert replayed.code == 1 and "ReplayedBatch" in replayed.out + replayed.err
    _check_served(gap)
    # Exported once: the next outbound batch does not carry them again.
    second = gap.work / "carry" / "out-2.batch"
    again = gap.offline.run(capsys, "export-outbox", "--officer", OFFICER, "--out", str(second))
    assert again.code == 0 and "transparency" not in again.out
    # Not delivered until the receipt comes back in the next inbound batch.
    assert _queued(gap.offline) == PAGES
    inbound = gap.work / "carry" / "in-1.batch"
    exported = gap.connected.run(capsys, "export", "--officer", OFFICER, "--out", str(inbound))
    assert exported.code == 0, exported.err
    imported = gap.offline.run(capsys, "import", "--officer", OFFICER, str(inbound))
    assert imported.code == 0, imported.err
    assert "8 transparency pages published" in imported.out
    assert _queued(gap.offline) == []
    assert list(outbox_folder(gap.offline.data_dir).iterdir()) == []
    assert _deliveries(gap.offline) == [(f"page:{name}", "batch") for name in PAGES]


def test_the_sync_page_says_what_became_of_the_pages_in_the_officers_language(
    auth, client, app, db, config, unit, monkeypatch
) -> None:
    """Through the web sync (the stand-in public host of the officer tests, which knows no
    transparency page: each is refused and stays queued; then one that takes them)."""
    from journalist_app.keys.custody import unlock
    from journalist_app.sync.client import SyncClient
    from journalist_app.transparency.publish import publish_quarter

    keyring = unlock(db, unit.username, unit.passphrase, config.wrap_params)
    publish_quarter(db, keyring, app, config.data_dir, Quarter.parse(QUARTER))
    auth.login()

    auth.sync()
    refused = client.get("/").get_data(as_text=True)
    assert "Le serveur public a refusé 8 fichiers du rapport de transparence" in refused
    monkeypatch.setattr(SyncClient, "put_transparency_page", lambda self, name, content: True)
    client.get("/?lang=es")  # the officer's language, kept for the session
    auth.sync()
    published = client.get("/").get_data(as_text=True)
    assert "Informe de transparencia publicado en el servidor público: 8 archivos." in published
    db.expire_all()
    assert _queued_in(db) == []


def _queued_in(session) -> list[str]:
    rows = session.scalars(
        select(OutboxItem).where(OutboxItem.kind == KIND, OutboxItem.confirmed_at.is_(None))
    )
    return sorted(row.item_id for row in rows)
