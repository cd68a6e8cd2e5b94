"""Published transparency pages on their way to the public host (docs/retention.md).

Releasing a quarter queues each of its pages (HTML and PDF, in every language) once: the
bytes in ``DATA_DIR/transparency/outbox/<name>``, and an outbox row of kind ``page``,
as replies and acknowledgements are queued. The next online sync puts every queued page
(``PUT /sync/v1/transparency/<name>``, docs/sync-api.md); on an air-gapped unit the next
``export-outbox`` carries it as a ``transparency_page`` entry, the connected machine puts
it and the receipt of the next inbound batch confirms it (docs/batch.md). A page is
delivered once the public host took it: the row's ``confirmed_at`` is set, the delivery
audited (``transparency.delivered``) and the queued copy removed. A delivered page is
not queued again when its quarter is released again (the same noisy counts).
"""

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto.transparency_page import check_page
from journalist_app import audit
from journalist_app.clock import utc_now
from journalist_app.errors import SyncProtocolError
from journalist_app.models import OutboxItem
from journalist_app.roles import Principal
from journalist_app.sync.client import SyncClient
from journalist_app.transparency.release import RELEASES_DIR

# The outbox kind of a queued page; its item id is the page's name (2026-Q3.ar.html).
KIND = "page"
OUTBOX = "outbox"
DELIVERED = "transparency.delivered"


def outbox_folder(data_dir: Path) -> Path:
    """Where queued pages wait for the public host."""
    return data_dir / RELEASES_DIR / OUTBOX


def queue_pages(session: Session, data_dir: Path, quarter: str, pages: dict[str, str]) -> list[str]:
    """Queue the quarter's pages (``pages``: HTML by language) and their PDFs for the public
    host; the names queued (or queued anew) now. Adds rows, commits nothing.

    A page delivered before is left alone. A page still waiting gets the fresh render if
    its queued copy is gone or differs (lost, or changed on disk), and goes with the next
    outbound batch again. Each page is checked as the public host will check it
    (crypto/transparency_page.py), so a page it would refuse is never queued.
    """
    # WeasyPrint only here: the sync imports this module and never renders.
    from journalist_app.transparency.page import report_pdf

    queued = []
    for language, html in pages.items():
        for name, render in (
            (f"{quarter}.{language}.html", lambda html=html: html.encode("utf-8")),
            (f"{quarter}.{language}.pdf", lambda html=html: report_pdf(html)),
        ):
            item = session.get(OutboxItem, (KIND, name))
            if item is not None and item.confirmed_at is not None:
                continue
            content = render()
            check_page(name, content)
            copy = outbox_folder(data_dir) / name
            if item is not None and copy.is_file() and copy.read_bytes() == content:
                continue
            _write_whole(copy.parent, name, content)
            if item is None:
                session.add(OutboxItem(kind=KIND, item_id=name))
            else:
                item.exported_batch, item.exported_at = None, None
            queued.append(name)
    session.flush()
    return queued


@dataclass(frozen=True)
class QueuedPage:
    item: OutboxItem
    path: Path

    @property
    def name(self) -> str:
        return self.item.item_id

    def read(self) -> bytes:
        return self.path.read_bytes()


def pending_pages(
    session: Session, data_dir: Path, *, include_exported: bool = True
) -> list[QueuedPage]:
    """Queued pages not yet delivered, oldest first; with ``include_exported`` false, only
    those no outbound batch carried yet."""
    query = (
        select(OutboxItem)
        .where(OutboxItem.kind == KIND, OutboxItem.confirmed_at.is_(None))
        .order_by(OutboxItem.queued_at, OutboxItem.item_id)
    )
    if not include_exported:
        query = query.where(OutboxItem.exported_batch.is_(None))
    folder = outbox_folder(data_dir)
    # A row whose copy is gone (a data dir restored without it) waits until its quarter
    # is released again, which writes the copy anew (queue_pages).
    return [
        QueuedPage(item, folder / item.item_id)
        for item in session.scalars(query)
        if (folder / item.item_id).is_file()
    ]


def mark_delivered(
    session: Session, actor: Principal, data_dir: Path, names: Iterable[str], *, via: str
) -> list[str]:
    """Record that the public host took these pages, audited; the names newly delivered."""
    done = []
    for name in names:
        item = session.get(OutboxItem, (KIND, name))
        if item is None or item.confirmed_at is not None:
            continue
        item.confirmed_at = utc_now()
        audit.record(session, actor, DELIVERED, f"page:{name}", {"via": via})
        done.append(name)
    session.commit()
    # After the commit: a crash before leaves the copy, and the page is sent again.
    for name in done:
        (outbox_folder(data_dir) / name).unlink(missing_ok=True)
    return done


@dataclass
class PagesPushed:
    delivered: list[str]
    refused: list[str]


def push_pages(
    session: Session, client: SyncClient, actor: Principal, data_dir: Path
) -> PagesPushed:
    """Put every queued page on the public host (online sync); each one delivered is marked
    at once. A page the public host refuses (or a host too old to take pages) stays queued
    and the run goes on; an unsigned or unreachable host stops it, as anywhere in a sync."""
    result = PagesPushed([], [])
    for page in pending_pages(session, data_dir):
        try:
            client.put_transparency_page(page.name, page.read())
        except SyncProtocolError:
            result.refused.append(page.name)
            continue
        result.delivered += mark_delivered(session, actor, data_dir, [page.name], via="sync")
    return result


def _write_whole(folder: Path, name: str, content: bytes) -> None:
    """``folder/name`` written whole: a temporary file flushed to disk, then renamed."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".queue-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, folder / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
