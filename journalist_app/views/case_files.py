"""Attachments of a case's reports: decrypted on demand, downloaded or pictured, never shown raw."""

import time

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from journalist_app.clock import utc_now
from journalist_app.diagnostics.files import diagnose_file
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
from journalist_app.triage.exposure import (
    MAX_REMEMBERED,
    REVEAL_SECONDS,
    hash_matches_of,
    record_reveal,
)
from journalist_app.triage.workflow import get_case, report_of_case
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state
from journalist_app.views.forms import ActionForm

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
def download(case_id: int, report_id: str, name: str) -> Response | str:
    matches = hash_matches_of(db(), report_id, name)
    if matches and request.args.get("confirm") != "yes":
        # Known illegal media: a second, deliberate confirmation before it is decrypted.
        return render_template(
            "cases/reveal_confirm.html",
            case_id=case_id,
            report_id=report_id,
            name=name,
            labels=sorted({m.label for m in matches}),
            download=True,
        )
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
    sharp = request.args.get("sharp") == "1" and is_revealed(case_id, report_id, name)
    attachment = _open(case_id, report_id, name, Purpose.PICTURE_ATTACHMENT)
    db().commit()
    try:
        picture = make_thumbnail(attachment.content, sharp=sharp)
    except AttachmentRefused:
        abort(422)
    response = Response(picture.content, mimetype=picture.content_type)
    response.headers.update(DOWNLOAD_HEADERS)
    response.headers["Content-Disposition"] = "inline"
    return response


# --- safe viewing -------------------------------------------------------------------------

REVEALED_SESSION_KEY = "revealed_media"


def _item(case_id: int, report_id: str, name: str) -> str:
    return f"{case_id}/{report_id}/{name}"


def is_revealed(case_id: int, report_id: str, name: str) -> bool:
    """Did this officer reveal this item, in this session, in the last few minutes?"""
    revealed = session.get(REVEALED_SESSION_KEY) or {}
    at = revealed.get(_item(case_id, report_id, name))
    return isinstance(at, int | float) and time.time() - at < REVEAL_SECONDS


@blueprint.post("/cases/<int:case_id>/reports/<report_id>/files/<name>/reveal")
@permission_required(Permission.REPORTS_READ)
def reveal(case_id: int, report_id: str, name: str) -> BaseResponse | str:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        get_case(db(), case_id)
        report_of_case(db(), case_id, report_id)
    except CaseNotFound:
        abort(404)
    matches = hash_matches_of(db(), report_id, name)
    if matches and request.form.get("confirm") != "yes":
        # Known illegal media: a second, deliberate confirmation.
        return render_template(
            "cases/reveal_confirm.html",
            case_id=case_id,
            report_id=report_id,
            name=name,
            labels=sorted({m.label for m in matches}),
        )
    record_reveal(db(), g.keyring, case_id, report_id, name, confirmed_match=bool(matches))
    db().commit()
    revealed = dict(session.get(REVEALED_SESSION_KEY) or {})
    revealed[_item(case_id, report_id, name)] = int(time.time())
    session[REVEALED_SESSION_KEY] = dict(
        sorted(revealed.items(), key=lambda i: i[1])[-MAX_REMEMBERED:]
    )
    return redirect(url_for("cases.detail", case_id=case_id, _anchor=f"file-{report_id}-{name}"))


@blueprint.get("/cases/<int:case_id>/reports/<report_id>/files/<name>/diagnostics")
@permission_required(Permission.REPORTS_READ)
def diagnostics(case_id: int, report_id: str, name: str) -> str:
    attachment = _open(case_id, report_id, name, Purpose.DIAGNOSE_ATTACHMENT)
    db().commit()
    found = diagnose_file(attachment.content)
    return render_template(
        "cases/diagnostics.html",
        case_id=case_id,
        report_id=report_id,
        name=name,
        diagnosis=found,
        matches=hash_matches_of(db(), report_id, name),
    )
