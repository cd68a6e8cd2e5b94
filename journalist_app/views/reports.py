"""The report list, one decrypted report, and sync with the public host."""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.errors import (
    MissingKey,
    ReportNotFound,
    ReportUnreadable,
    SyncError,
    SyncRefused,
    SyncUnreachable,
)
from journalist_app.forms import ActionForm
from journalist_app.reading import list_reports, read_report
from journalist_app.sync import run_sync
from journalist_app.views.context import db, state

blueprint = Blueprint("reports", __name__)


@blueprint.get("/")
def index() -> str:
    return render_template("reports/list.html", reports=list_reports(db()), form=ActionForm())


@blueprint.get("/reports/<report_id>")
def detail(report_id: str) -> str | tuple[str, int]:
    try:
        reading = read_report(db(), state().blob_store, g.keyring, report_id)
    except ReportNotFound:
        abort(404)
    except ReportUnreadable:
        return render_template("reports/unreadable.html", report_id=report_id), 422
    return render_template("reports/detail.html", reading=reading)


@blueprint.post("/sync")
def sync() -> Response:
    try:
        result = run_sync(db(), state().config, g.keyring)
    except MissingKey:
        flash(_("Your account holds no sync key: ask an officer who has one to sync."), "error")
    except SyncUnreachable:
        flash(
            _("The public host could not be reached. Check the sync address and try again."),
            "error",
        )
    except SyncRefused:
        flash(
            _(
                "The public host refused the sync request. Check that it runs the current "
                "recipient set and that both clocks are right."
            ),
            "error",
        )
    except SyncError:
        flash(_("The public host gave an unexpected answer. Nothing was lost; try again."), "error")
    else:
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
