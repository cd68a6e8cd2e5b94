"""Attachments of a case's reports: decrypted on demand, downloaded or pictured, never shown raw."""

from flask import Blueprint, Response, abort, g, render_template
from flask_babel import gettext as _

from journalist_app.clock import utc_now
from journalist_app.errors import PermissionDenied
from journalist_app.models import Report
from journalist_app.reports.sealed import Purpose
from journalist_app.roles import Permission
from journalist_app.triage.attachments import (
    DecryptedAttachment,
    decrypt_attachment,
    make_thumbnail,
    safe_filename,
    served_type,
)
from journalist_app.triage.errors import AttachmentRefused, CaseNotFound
from journalist_app.triage.events import (
    TriageAction,
    case_target,
    record_case_event,
)
from journalist_app.triage.workflow import get_case, report_of_case
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state

blueprint = Blueprint("case_files", __name__)

# Never sniffed into something the browser would run (the guard adds CSP "default-src 'none'").
DOWNLOAD_HEADERS = {"X-Content-Type-Options": "nosniff"}


@blueprint.errorhandler(PermissionDenied)
def _denied(_error: PermissionDenied) -> tuple[str, int]:
    return render_template("error.html", message=_("Your role does not allow this action.")), 403


def _open(case_id: int, report_id: str, name: str, purpose: Purpose) -> DecryptedAttachment:
    try:
        get_case(db(), case_id)
        report_of_case(db(), case_id, report_id)
    except CaseNotFound:
        abort(404)
    report = db().get(Report, report_id)
    blob = report.blob(name) if report is not None else None
    if blob is None or not name.startswith("attachment-"):
        abort(404)
    try:
        return decrypt_attachment(
            db(), state().blob_store, g.keyring, blob, purpose, target=case_target(case_id)
        )
    except AttachmentRefused:
        abort(422)


@blueprint.get("/cases/<int:case_id>/reports/<report_id>/files/<name>")
@permission_required(Permission.REPORTS_READ)
def download(case_id: int, report_id: str, name: str) -> Response:
    attachment = _open(case_id, report_id, name, Purpose.DOWNLOAD_ATTACHMENT)
    # The audit entry came with the decryption (reports/sealed.py); this is the history.
    record_case_event(
        db(),
        case_id,
        g.keyring,
        TriageAction.ATTACHMENT_DOWNLOADED,
        {"report": report_id, "file": name, "type": attachment.detected_type},
        now=utc_now(),
        audit_log=False,
    )
    db().commit()
    filename = safe_filename(attachment.claimed_name, attachment.detected_type, name)
    response = Response(attachment.content, mimetype=served_type(attachment.detected_type))
    response.headers["Content-Disposition"] = filename.content_disposition()
    response.headers.update(DOWNLOAD_HEADERS)
    return response


@blueprint.get("/cases/<int:case_id>/reports/<report_id>/files/<name>/thumbnail")
@permission_required(Permission.REPORTS_READ)
def thumbnail(case_id: int, report_id: str, name: str) -> Response:
    # Decrypted, so logged (by open_sealed), even if no preview can be drawn from it.
    attachment = _open(case_id, report_id, name, Purpose.PICTURE_ATTACHMENT)
    db().commit()
    try:
        picture = make_thumbnail(attachment.content)
    except AttachmentRefused:
        abort(422)
    response = Response(picture.content, mimetype=picture.content_type)
    response.headers.update(DOWNLOAD_HEADERS)
    response.headers["Content-Disposition"] = "inline"
    return response
