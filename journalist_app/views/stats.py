"""The unit's dashboard: figures as tables and server-drawn SVG charts, and a CSV export.

Supervisors only (``stats.read``). Every figure is counted from clear triage fields;
nothing here opens an envelope, and the page lists the fields behind each figure.
"""

from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale
from werkzeug.wrappers import Response as WerkzeugResponse

from journalist_app.clock import utc_now
from journalist_app.i18n import LANGUAGES, RIGHT_TO_LEFT, current_language
from journalist_app.roles import Permission
from journalist_app.stats.charts import MET_COLOUR, MISSED_COLOUR, RUNNING_COLOUR, bar_chart
from journalist_app.stats.figures import CHANNEL_KNOWN, StatsFilter, compute
from journalist_app.stats.tables import Table, tables, to_csv
from journalist_app.transparency.page import render_report, report_pdf
from journalist_app.transparency.publish import publish_quarter
from journalist_app.transparency.release import Quarter, QuarterError, stored_release
from journalist_app.triage.categories import active_categories
from journalist_app.triage.territories import regions
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state

blueprint = Blueprint("stats", __name__)
DEFAULT_DAYS = 30
# The part of the figures each chart draws (stats/figures.py PARTS).
CHART_PARTS = {
    "reports_by_day": "reports",
    "reports_by_week": "reports",
    "by_kind": "reports",
    "cases_by_day": "cases_by_day",
    "cases_by_week": "cases_by_day",
    "by_category": "by_category",
    "by_territory": "by_territory",
    "outcomes": "outcomes",
    "deadlines": "deadlines",
    "open_per_officer": "open_per_officer",
}
MAX_DAYS = 3 * 366
# Periods the figures can count: a day at either end of the calendar overflows the day
# after ``end`` or the 30 days before it (a 500 before); nothing was reported there.
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(9998, 12, 31)


def parse_filter() -> StatsFilter:
    """The period and filters of the query string; 400 on nonsense, last 30 days by default."""
    today = utc_now().date()
    try:
        end = date.fromisoformat(request.args.get("end") or today.isoformat())
        start = date.fromisoformat(
            request.args.get("start") or (end - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        )
    except (ValueError, OverflowError):
        abort(400)
    if start > end or (end - start).days >= MAX_DAYS or start < EARLIEST_DAY or end > LATEST_DAY:
        abort(400)
    category = request.args.get("category") or None
    if category is not None and category not in {c.id for c in active_categories()}:
        abort(400)
    territory = request.args.get("territory") or None
    if territory is not None and len(territory) > 32:
        abort(400)
    return StatsFilter(start=start, end=end, category=category, territory=territory)


@blueprint.get("/stats")
@permission_required(Permission.STATS_READ)
def dashboard() -> str:
    chosen = parse_filter()
    language = current_language()
    figures = compute(db(), chosen)
    return render_template(
        "stats/dashboard.html",
        figures=figures,
        tables=tables(figures, language),
        chosen=chosen,
        categories=active_categories(),
        regions=regions(),
        channel_known=CHANNEL_KNOWN,
        quarters=recent_quarters(),
    )


@blueprint.get("/stats/chart/<name>.svg")
@permission_required(Permission.STATS_READ)
def chart(name: str) -> Response:
    chosen = parse_filter()
    language = current_language()
    part = CHART_PARTS.get(name)
    if part is None:
        abort(404)
    figures = compute(db(), chosen, parts=frozenset({part}))
    table = next((t for t in tables(figures, language) if t.name == name), None)
    if table is None or not table.chart:
        abort(404)
    svg = bar_chart(
        str(table.caption),
        [label for _key, label, _value in table.rows],
        [int(value or 0) for _key, _label, value in table.rows],
        horizontal=table.horizontal,
        colours=_colours(table),
        rtl=language in RIGHT_TO_LEFT,
    )
    return Response(svg, mimetype="image/svg+xml")


@blueprint.get("/stats/figures.csv")
@permission_required(Permission.STATS_READ)
def export_csv() -> Response:
    chosen = parse_filter()
    body = to_csv(compute(db(), chosen), current_language())
    filename = f"iblagh-figures-{chosen.start.isoformat()}-{chosen.end.isoformat()}.csv"
    return Response(
        "\ufeff" + body,  # a byte-order mark, so spreadsheets read the Arabic labels as UTF-8
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _colours(table: Table) -> list[str] | None:
    if table.name != "deadlines":
        return None
    return [MET_COLOUR, MISSED_COLOUR, RUNNING_COLOUR]


@blueprint.post("/stats/transparency")
@permission_required(Permission.STATS_READ)
def release_transparency() -> WerkzeugResponse:
    """Release (once) the chosen quarter's public report, then show it."""
    try:
        quarter = Quarter.parse(request.form.get("quarter", ""))
    except QuarterError:
        abort(400)
    if quarter.end > utc_now():
        # Drawn once and kept: a quarter not over yet would be published on part of its
        # reports for good. The form offers finished quarters only (recent_quarters).
        abort(400)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    publish_quarter(db(), g.keyring, app, state().config.data_dir, quarter)
    return redirect(
        url_for("stats.transparency_page", quarter=str(quarter), language=current_language())
    )


@blueprint.get("/stats/transparency/<quarter>.<language>.html")
@permission_required(Permission.STATS_READ)
def transparency_page(quarter: str, language: str) -> Response:
    """A released quarter's page in one language, as a file to publish."""
    try:
        chosen = Quarter.parse(quarter)
    except QuarterError:
        abort(404)
    released = stored_release(state().config.data_dir, chosen)
    if released is None or language not in LANGUAGES:
        abort(404)
    with force_locale(language):
        html = render_report(released, language)
    return Response(html, mimetype="text/html")


@blueprint.get("/stats/transparency/<quarter>.<language>.pdf")
@permission_required(Permission.STATS_READ)
def transparency_pdf(quarter: str, language: str) -> Response:
    """A released quarter's page in one language, as the PDF to publish beside it."""
    try:
        chosen = Quarter.parse(quarter)
    except QuarterError:
        abort(404)
    released = stored_release(state().config.data_dir, chosen)
    if released is None or language not in LANGUAGES:
        abort(404)
    with force_locale(language):
        html = render_report(released, language)
    response = Response(report_pdf(html), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{chosen}.{language}.pdf"'
    return response


def recent_quarters(today: date | None = None, count: int = 4) -> list[str]:
    """The last ``count`` finished quarters, newest first."""
    today = today or utc_now().date()
    year, number = today.year, (today.month - 1) // 3 + 1
    quarters = []
    for _ in range(count):
        year, number = (year - 1, 4) if number == 1 else (year, number - 1)
        quarters.append(f"{year}-Q{number}")
    return quarters
