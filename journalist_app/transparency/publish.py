"""Release a quarter and write its pages: what the CLI and the dashboard both call."""

from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from journalist_app import audit
from journalist_app.roles import Permission, Principal, requires
from journalist_app.transparency.delivery import queue_pages
from journalist_app.transparency.page import render_all, report_pdf
from journalist_app.transparency.release import (
    DEFAULT_EPSILON,
    DEFAULT_THRESHOLD,
    Quarter,
    Release,
    release,
)

RELEASED = "transparency.released"


@dataclass(frozen=True)
class Published:
    release: Release
    pages: dict[str, str]
    made_now: bool
    # Page names queued for the public host by this call (none when queued before).
    queued: list[str] = field(default_factory=list)


@requires(Permission.STATS_READ)
def publish_quarter(
    session: Session,
    actor: Principal,
    app: Flask,
    data_dir: Path,
    quarter: Quarter,
    *,
    epsilon: float = DEFAULT_EPSILON,
    threshold: int = DEFAULT_THRESHOLD,
) -> Published:
    """The quarter's release (drawn once, audited when drawn) and its page in every language,
    queued (once) for the public host with their PDFs."""
    made, made_now = release(session, data_dir, quarter, epsilon=epsilon, threshold=threshold)
    if made_now:
        audit.record(
            session,
            actor,
            RELEASED,
            f"quarter:{quarter}",
            {"epsilon": made.epsilon, "threshold": made.threshold},
        )
        session.commit()
    pages = render_all(app, made)
    # For the public host, with the next sync or outbound batch (transparency/delivery.py).
    queued = queue_pages(session, data_dir, str(quarter), pages)
    session.commit()
    return Published(made, pages, made_now, queued)


def write_pages(published: Published, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for language, html in published.pages.items():
        path = out / f"{published.release.quarter}.{language}.html"
        path.write_text(html, encoding="utf-8")
        written.append(path)
    return written


def write_pdfs(published: Published, out: Path) -> list[Path]:
    """The same pages as PDF, ``2026-Q4.ar.pdf`` and so on, beside the HTML."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for language, html in published.pages.items():
        path = out / f"{published.release.quarter}.{language}.pdf"
        path.write_bytes(report_pdf(html))
        written.append(path)
    return written
