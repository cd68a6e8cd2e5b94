"""Search, related cases and bulk actions on the cases picked from them."""

import re

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response

from journalist_app.diagnostics.pdq import DEFAULT_MAX_DISTANCE
from journalist_app.roles import Permission
from journalist_app.row_ids import row_id
from journalist_app.triage import statuses
from journalist_app.triage.bulk import ACTIONS, apply_bulk
from journalist_app.triage.search import search as run_search
from journalist_app.triage.workflow import assignable_officers
from journalist_app.views.access import permission_required
from journalist_app.views.context import db
from journalist_app.views.forms import ActionForm

blueprint = Blueprint("search", __name__)
# Where a bulk action returns: a path of this host (the pages give /cases/<id> or /search).
# Letters, digits, "_", "-" and "/" only, never "//": browsers drop a tab or newline
# anywhere in a URL, so "/\t/evil.example" was "//evil.example", another site (and a
# newline a 500, as no header may hold one).
_LOCAL_PATH = re.compile(r"/(?!/)[A-Za-z0-9_/-]*")


def _distance(raw: str | None) -> int:
    try:
        value = int(raw or DEFAULT_MAX_DISTANCE)
    except ValueError:
        return DEFAULT_MAX_DISTANCE
    return min(max(value, 0), 128)


@blueprint.route("/search", methods=["GET", "POST"])
@permission_required(Permission.REPORTS_READ)
def search() -> str:
    # The terms travel in a POST body, never in a URL: URLs end up in access logs and
    # in the browser's history, both on disk (docs/triage.md, "Search").
    form = ActionForm()
    query, distance, result = "", DEFAULT_MAX_DISTANCE, None
    if request.method == "POST" and form.validate_on_submit():
        query = request.form.get("q", "")[:2048]
        distance = _distance(request.form.get("distance"))
        if query.strip():
            result = run_search(db(), g.keyring, query, max_distance=distance)
    return render_template(
        "search/results.html",
        query=query,
        distance=distance,
        result=result,
        officers=assignable_officers(db()),
        status_choices=statuses.STATUSES,
        form=form,
    )


@blueprint.post("/cases/bulk")
@permission_required(Permission.CASES_UPDATE)
def bulk() -> Response:
    back = request.form.get("back", "")
    destination = back if _LOCAL_PATH.fullmatch(back) else url_for("search.search")
    if not ActionForm().validate_on_submit():
        flash(_("The form expired or did not come from this site. Please try again."), "error")
        return redirect(destination)
    action = request.form.get("action", "")
    picked = [case for case in map(row_id, request.form.getlist("cases")) if case is not None]
    if action not in ACTIONS or not picked:
        flash(_("Tick some cases and choose an action."), "error")
        return redirect(destination)
    target = row_id(request.form.get("target", ""))
    result = apply_bulk(
        db(),
        g.keyring,
        action,
        picked,
        officer_id=row_id(request.form.get("officer", "")),
        status=request.form.get("status", ""),
        reason=request.form.get("reason") or None,
        target=target,
    )
    flash(
        ngettext("%(num)d case done.", "%(num)d cases done.", len(result.done)),
        "info",
    )
    if result.refused:
        flash(
            _(
                "Refused for cases %(numbers)s: not allowed from their status, already "
                "merged, or closed.",
                numbers=", ".join(str(n) for n in result.refused),
            ),
            "error",
        )
    if action == "merge" and target is not None:
        return redirect(url_for("cases.detail", case_id=target))
    return redirect(destination)
