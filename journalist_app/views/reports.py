"""The report list, one decrypted report, and sync with the public host."""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app import audit
from journalist_app.errors import (
    MissingKey,
    ReportNotFound,
    ReportUnreadable,
    SyncError,
    SyncRefused,
    SyncUnreachable,
)
from journalist_app.reports.reading import list_reports, read_report
from journalist_app.roles import Permission
from journalist_app.sync.pull import run_sync
from journalist_app.triage.cases import case_of_report
from journalist_app.triage.ingest import index_report
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state
from journalist_app.views.forms import ActionForm

blueprint = Blueprint("reports", __name__)


@blueprint.get("/")
@permission_required(Permission.REPORTS_LIST)
def index() -> str:
    return render_template("reports/list.html", reports=list_reports(db()), form=ActionForm())


@blueprint.get("/reports/<report_id>")
@permission_required(Permission.REPORTS_READ)
def detail(report_id: str) -> str | tuple[str, int]:
    try:
        reading = read_report(db(), state().blob_store, g.keyring, report_id)
    except ReportNotFound:
        abort(404)
    except ReportUnreadable:
        audit.record(
            db(), g.keyring, audit.Action.REPORT_UNREADABLE, audit.report_target(report_id)
        )
        db().commit()
        return render_template("reports/unreadable.html", report_id=report_id), 422
    db().commit()  # the "report.opened" entry that read_report added
    # A report nobody has read yet (air-gap import) is indexed and grouped on first open.
    index_report(db(), state().blob_store, g.keyring, report_id)
    case_id = case_of_report(db(), report_id)
    return render_template("reports/detail.html", reading=reading, case_id=case_id)


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
    return redirect(url_for("reports.index"))


def _flash_sync_error(exc: Exception) -> None:
    if isinstance(exc, MissingKey):
        message = _("Your account holds no sync key: ask an officer who has one to sync.")
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
