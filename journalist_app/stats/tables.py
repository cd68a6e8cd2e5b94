"""The dashboard's figures as labelled rows: one list feeds the HTML tables, the charts and
the CSV export, so the three can never disagree."""

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from journalist_app.stats.figures import (
    NO_TERRITORY,
    SOURCES,
    UNASSIGNED,
    Delay,
    Figures,
    territory_name,
)
from journalist_app.triage import statuses
from journalist_app.triage.categories import category_label


@dataclass(frozen=True)
class Table:
    """One figure: a name (URL-safe), a caption, its clear sources, and (key, label, value) rows."""

    name: str
    caption: LazyString
    column: LazyString
    sources: tuple[str, ...]
    rows: Sequence[tuple[str, str, int | float | None]]
    # Draw it as a chart (a delay table is not a chart).
    chart: bool = True
    horizontal: bool = True


def tables(figures: Figures, language: str) -> list[Table]:
    """Every figure, in the order the page shows them."""
    day_rows = [
        (d.isoformat(), d.isoformat(), figures.reports_by_day.get(d, 0)) for d in figures.days()
    ]
    case_day_rows = [
        (d.isoformat(), d.isoformat(), figures.cases_by_day.get(d, 0)) for d in figures.days()
    ]
    deadlines = figures.deadlines
    return [
        Table(
            "reports_by_day",
            _l("Reports received, by day"),
            _l("Day (UTC)"),
            SOURCES["reports_by_day"],
            day_rows,
            horizontal=False,
        ),
        Table(
            "reports_by_week",
            _l("Reports received, by week"),
            _l("ISO week"),
            SOURCES["reports_by_day"],
            [(w, w, n) for w, n in figures.reports_by_week().items()],
            horizontal=False,
        ),
        Table(
            "cases_by_day",
            _l("Cases opened, by day"),
            _l("Day (UTC)"),
            SOURCES["cases_by_day"],
            case_day_rows,
            horizontal=False,
        ),
        Table(
            "cases_by_week",
            _l("Cases opened, by week"),
            _l("ISO week"),
            SOURCES["cases_by_day"],
            [(w, w, n) for w, n in figures.cases_by_week().items()],
            horizontal=False,
        ),
        Table(
            "by_category",
            _l("Cases by category"),
            _l("Category"),
            SOURCES["by_category"],
            [(k, category_label(k or None), n) for k, n in figures.by_category.items()],
        ),
        Table(
            "by_territory",
            _l("Cases by territory"),
            _l("Territory"),
            SOURCES["by_territory"],
            [
                (k, territory_name(k, language) if k != NO_TERRITORY else _("No territory yet"), n)
                for k, n in figures.by_territory.items()
            ],
        ),
        Table(
            "by_kind",
            _l("Reports by kind"),
            _l("Kind"),
            SOURCES["by_kind"],
            [(k, _kind_label(k), n) for k, n in figures.by_kind.items()],
        ),
        Table(
            "outcomes",
            _l("Cases by status and outcome"),
            _l("Status"),
            SOURCES["outcomes"],
            [(k, outcome_label(k), n) for k, n in figures.outcomes.items()],
        ),
        Table(
            "deadlines",
            _l("Triage deadlines"),
            _l("Deadline"),
            SOURCES["deadlines"],
            [
                ("met", _("Met"), deadlines.met),
                ("missed", _("Missed"), deadlines.missed),
                ("running", _("Not due yet"), deadlines.running),
            ],
        ),
        Table(
            "open_per_officer",
            _l("Open cases per officer (now)"),
            _l("Officer"),
            SOURCES["open_per_officer"],
            [
                (k, k if k != UNASSIGNED else _("Nobody"), n)
                for k, n in figures.open_per_officer.items()
            ],
        ),
        Table(
            "delays",
            _l("Time from receipt (hours)"),
            _l("Step"),
            SOURCES["delays"],
            _delay_rows(figures),
            chart=False,
        ),
        Table(
            "hash_matches",
            _l("Cases with a file on a hash list"),
            _l("Figure"),
            SOURCES["hash_matches"],
            [("hash_matches", _("Cases"), figures.hash_matches)],
            chart=False,
        ),
    ]


def _delay_rows(figures: Figures) -> list[tuple[str, str, int | float | None]]:
    rows: list[tuple[str, str, int | float | None]] = []
    steps: list[tuple[str, str, Delay]] = [
        ("triage", _("First triage"), figures.to_triage),
        ("referral", _("Referral"), figures.to_referral),
        ("acknowledgement", _("First answer to the reporter"), figures.to_acknowledgement),
    ]
    for key, label, delay in steps:
        rows.append((f"{key}.cases", _("%(step)s: cases", step=label), delay.count))
        rows.append((f"{key}.median", _("%(step)s: median", step=label), delay.median_hours))
        rows.append((f"{key}.p90", _("%(step)s: 90th percentile", step=label), delay.p90_hours))
    return rows


def outcome_label(key: str) -> str:
    status, _sep, reason = key.partition(":")
    label = str(statuses.STATUS_LABELS.get(status, status))
    if reason:
        reason_label = statuses.CLOSE_REASON_LABELS.get(reason, reason)
        return f"{label} — {reason_label}"
    return label


def _kind_label(kind: str) -> str:
    labels: dict[str, str] = {"report": _("Report"), "followup": _("Follow-up")}
    return labels.get(kind, kind)


def to_csv(figures: Figures, language: str) -> str:
    """One CSV for every table: figure, key, label, value; sources in the last column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["figure", "key", "label", "value", "clear_fields"])
    for table in tables(figures, language):
        sources = "; ".join(table.sources)
        for key, label, value in table.rows:
            writer.writerow(
                [table.name, key, _csv_safe(label), "" if value is None else value, sources]
            )
    return buffer.getvalue()


def _csv_safe(text: str) -> str:
    """A label a spreadsheet will not run as a formula (a configured name could start with =)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
