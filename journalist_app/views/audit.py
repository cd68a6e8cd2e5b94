"""The audit log in the browser: one's own entries, or everyone's for a supervisor."""

import json
from typing import Any

from flask import Blueprint, g, render_template, request

from journalist_app import audit as audit_log
from journalist_app.roles import Permission
from journalist_app.views.access import permission_required
from journalist_app.views.context import db

blueprint = Blueprint("audit", __name__)


@blueprint.get("/audit")
@permission_required(Permission.AUDIT_READ_OWN)
def entries() -> str:
    page = request.args.get("page", default=1, type=int) or 1
    listing = audit_log.list_entries(db(), g.keyring, page=page)
    return render_template("audit/list.html", listing=listing, details=_details)


def _details(raw: str) -> list[tuple[str, Any]]:
    try:
        value = json.loads(raw)
    except ValueError:
        return [("?", raw)]
    return sorted(value.items()) if isinstance(value, dict) else [("?", value)]
