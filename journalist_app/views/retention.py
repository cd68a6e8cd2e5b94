"""A case's retention on its page (rule, purge date, legal hold) and the hold decision.

The case page includes templates/retention/_case.html, which asks
``case_retention(case)`` for what applies; a supervisor (``retention.manage``) sets or
lifts the hold there, with a reason, audited.
"""

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.models import Case
from journalist_app.retention.holds import HoldReasonMissing, set_hold
from journalist_app.retention.rules import load_rules
from journalist_app.retention.schedule import CaseRetention, retention_of
from journalist_app.roles import Permission
from journalist_app.triage.errors import CaseNotFound
from journalist_app.views.access import permission_required
from journalist_app.views.context import db

blueprint = Blueprint("retention", __name__)


@blueprint.app_template_global()
def case_retention(case: Case) -> CaseRetention | None:
    """What retention says of ``case`` (None for a merged record, which follows its successor)."""
    return retention_of(db(), [case], load_rules()).get(case.id)


@blueprint.post("/cases/<int:case_id>/hold")
@permission_required(Permission.RETENTION_MANAGE)
def hold(case_id: int) -> Response:
    held = request.form.get("held") == "1"
    try:
        set_hold(db(), g.keyring, case_id, held, request.form.get("reason", ""))
    except CaseNotFound:
        abort(404)
    except HoldReasonMissing:
        flash(_("Give a reason of 10 to 1000 characters."), "error")
    else:
        flash(_("Legal hold set.") if held else _("Legal hold lifted."), "success")
    return redirect(url_for("cases.detail", case_id=case_id) + "#retention")
