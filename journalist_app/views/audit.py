"""The audit log in the browser: one's own entries, or everyone's for a supervisor,
with filters (officer, action, case, dates) and a CSV export."""

import json
from typing import Any

from flask import Blueprint, Response, g, render_template, request, stream_with_context

from journalist_app.audit_review.labels import action_label
from journalist_app.audit_review.search import (
    AuditFilters,
    actions_in_log,
    export_csv,
    filtered_entries,
)
from journalist_app.clock import utc_now
from journalist_app.roles import Permission
from journalist_app.views.access import permission_required
from journalist_app.views.context import db

blueprint = Blueprint("audit", __name__)


@blueprint.get("/audit")
@permission_required(Permission.AUDIT_READ_OWN)
def entries() -> str:
    page = request.args.get("page", default=1, type=int) or 1
    filters = AuditFilters.parse(request.args.to_dict())
    listing = filtered_entries(db(), g.keyring, filters, page=page)
    return render_template(
        "audit/list.html",
        listing=listing,
        details=_details,
        filters=filters,
        filter_args=filters.as_args(),
        actions=actions_in_log(db()),
        action_label=action_label,
    )


@blueprint.get("/audit/export.csv")
@permission_required(Permission.AUDIT_READ_ALL)
def export() -> Response:
    filters = AuditFilters.parse(request.args.to_dict())
    rows = export_csv(db(), g.keyring, filters)
    response = Response(stream_with_context(rows), mimetype="text/csv")
    stamp = utc_now().strftime("%Y%m%dT%H%MZ")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _details(raw: str) -> list[tuple[str, Any]]:
    try:
        value = json.loads(raw)
    except ValueError:
        return [("?", raw)]
    return sorted(value.items()) if isinstance(value, dict) else [("?", value)]
