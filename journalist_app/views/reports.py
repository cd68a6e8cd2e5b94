"""The landing page (the triage queue), one report (its case's page), and sync.

There is one report view: the case page (views/cases.py). ``/`` is the queue, never a
list of every report, and ``/reports/<id>`` shows the case the report belongs to, read
and grouped first if nobody has read it yet.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crypto.sync_api import is_id
from journalist_app import audit
from journalist_app.errors import (
    MissingKey,
    SyncDeadlineExceeded,
    SyncError,
    SyncRefused,
    SyncUnreachable,
)
from journalist_app.models import Report, ReportTriage
from journalist_app.roles import Permission
from journalist_app.sync.freshness import RecipientSetCheck
from journalist_app.sync.pull import run_sync
from journalist_app.triage.cases import open_case
from journalist_app.triage.errors import CaseNotFound
from journalist_app.triage.ingest import index_report
from journalist_app.views import cases as cases_view
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state

blueprint = Blueprint("reports", __name__)


@blueprint.get("/")
@permission_required(Permission.REPORTS_LIST)
def index() -> str:
    return cases_view.queue()


@blueprint.get("/reports/<report_id>")
@permission_required(Permission.REPORTS_READ)
def detail(report_id: str) -> str | tuple[str, int]:
    if not is_id(report_id) or db().get(Report, report_id) is None:
        abort(404)
    # A report nobody has read yet (air-gap import) is indexed and grouped on first open.
    outcome = index_report(db(), state().blob_store, g.keyring, report_id)
    triage = db().get(ReportTriage, report_id)
    if outcome in ("damaged", "not_for_me") or triage is None or triage.state != "indexed":
        audit.record(
            db(), g.keyring, audit.Action.REPORT_UNREADABLE, audit.report_target(report_id)
        )
        db().commit()
        return render_template("reports/unreadable.html", report_id=report_id), 422
    try:
        view = open_case(db(), state().blob_store, g.keyring, triage.case_id)
    except CaseNotFound:
        abort(404)
    return cases_view.render_case(view)


@blueprint.post("/sync")
@permission_required(Permission.REPORTS_SYNC)
def sync() -> Response:
    try:
        result = run_sync(db(), state().config, g.keyring)
    except (MissingKey, SyncError) as exc:
        audit.record_sync(db(), g.keyring, None, error=exc, via="web")
        db().commit()
        _flash_sync_error(exc)
    else:
        audit.record_sync(db(), g.keyring, result, via="web")
        db().commit()
        flash(
            _(
                "Sync done: %(new)d new, %(already)d already stored, %(acknowledged)d "
                "acknowledged, %(pushed)d replies sent, %(failed)d failed.",
                new=result.new,
                already=result.already_stored,
                acknowledged=result.acknowledged,
                pushed=result.replies_pushed,
                failed=result.failed,
            ),
            "info",
        )
        if result.pages_delivered:
            flash(
                _(
                    "Transparency report published on the public host: %(count)d files.",
                    count=len(result.pages_delivered),
                ),
                "info",
            )
        if result.pages_refused:
            flash(
                _(
                    "The public host refused %(count)d transparency report files; they stay "
                    "queued for the next sync.",
                    count=len(result.pages_refused),
                ),
                "error",
            )
        if result.recipient_set is not None and not result.recipient_set.current:
            _flash_recipient_set_warning(result.recipient_set)
        if result.audit_anchor_problem:
            flash(
                _(
                    "The audit log does not match the last anchor the public host keeps: "
                    "it may have been rewritten. No new anchor was sent; alert a supervisor."
                ),
                "error",
            )
    return redirect(url_for("cases.queue"))


def _flash_recipient_set_warning(check: RecipientSetCheck) -> None:
    if check.status == "stale":
        message = _(
            "The public host still runs recipient set %(served)d, not the current "
            "%(current)d: new reports are sealed to retired keys. Install the current "
            "recipient set on the public host.",
            served=check.served_serial or 0,
            current=check.current_serial or 0,
        )
    else:
        message = _(
            "The public host does not run the recipient set issued here. Check which "
            "keys it seals new reports to before trusting them."
        )
    flash(message, "error")


def _flash_sync_error(exc: Exception) -> None:
    if isinstance(exc, MissingKey):
        message = _("Your account holds no sync key: ask an officer who has one to sync.")
    elif isinstance(exc, SyncDeadlineExceeded):
        message = _(
            "The public host answered too slowly: the sync was stopped after %(seconds)d "
            "seconds. What arrived is kept; sync again to resume.",
            seconds=round(exc.seconds),
        )
    elif isinstance(exc, SyncUnreachable):
        message = _("The public host could not be reached. Check the sync address and try again.")
    elif isinstance(exc, SyncRefused):
        message = _(
            "The public host refused the sync request. Check that it runs the current "
            "recipient set and that both clocks are right."
        )
    else:
        message = _("The public host gave an unexpected answer. Nothing was lost; try again.")
    flash(message, "error")
