"""The pages a reporter sees: home, report form, receipt, status and follow-up."""

from flask import Blueprint, Response, abort, render_template, send_from_directory
from flask.blueprints import BlueprintSetupState
from flask_babel import format_decimal, get_locale
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests

from crypto.contents import FOLLOWUP_CATEGORY, IdentitySection, ReportBody
from crypto.errors import InvalidReceiptCode
from crypto.receipt import ReceiptCode
from crypto.sync_api import is_transparency_name
from source_app.admission import HostBusy, argon2_slot, spend_code_attempt, spend_submission
from source_app.categories import NO_SCREENSHOT_CATEGORIES
from source_app.forms import FollowupForm, ReceiptDownloadForm, ReportForm, StatusForm
from source_app.host import current_host, db_session
from source_app.services import form_tokens
from source_app.services.status import UnknownCode, read_status
from source_app.services.submission import finish_attachments, submit_followup, submit_report
from source_app.services.transparency import pages_folder
from source_app.uploads import (
    LowDiskSpace,
    SealingFile,
    TooManyAttachments,
    accepts_uploads,
    dropped_upload_bytes,
    sealed_attachments,
)
from source_app.web import format_size

blueprint = Blueprint("public", __name__)

STATUS_LABELS = {
    "received": _l("Received"),
    "under_review": _l("Under review"),
    "referred": _l("Referred to the judicial police"),
    "closed": _l("Closed"),
    "ended": _l("Handling ended: the unit no longer keeps this report"),
}
REASON_LABELS = {
    "not_illegal": _l("the content was found not to be illegal"),
    "duplicate": _l("it was already reported"),
    "insufficient_information": _l("there was not enough information to act"),
    "referred": _l("it was referred to the competent authority"),
    "handled": _l("it has been dealt with"),
}
CODE_SHAPE = _l("A receipt code is twenty digits.")
CODE_UNKNOWN = _l("No report matches this code. Check the digits and try again.")

# Why a form came back although its answers were fine (issue 10, item 11): the answers
# are on the page again, the files are not (a browser cannot be given them back).
FORM_EXPIRED = _l(
    "This form has expired: it was open for more than 4 hours, or the browser's session "
    "ended. Your answers are kept below; check them and send the form again."
)
TOO_MANY_FILES = _l(
    "Too many files: at most %(count)s can be sent at once. Your answers are kept below; "
    "attach at most %(count)s files again."
)
FILES_TOO_LARGE = _l(
    "The files are too large together: at most %(size)s can be sent at once. Your answers "
    "are kept below; attach smaller files, or give their addresses instead."
)
TOO_MANY_REPORTS = _l(
    "Many reports are arriving right now (this site takes %(count)s a minute). Your "
    "answers are kept below; wait a minute, then send the form again."
)
NO_SPACE_FOR_FILES = _l(
    "This site cannot take files right now: it is short of storage space. Your answers "
    "are kept below; send your report without files, or try again later."
)
HOST_BUSY = _l(
    "The service is busy. Your answers are kept below; send the form again in a few minutes."
)


@blueprint.record_once
def _forms_check_their_own_token(state: BlueprintSetupState) -> None:
    """The report and follow-up forms check their CSRF token as a field, so that an
    expired one brings the form back with its answers instead of an error page. Nothing
    is accepted without a valid token either way (``FlaskForm`` checks it)."""
    csrf = state.app.extensions["csrf"]
    csrf.exempt(f"{__name__}.report")
    csrf.exempt(f"{__name__}.followup")


def _refusal_problem(error: Exception) -> LazyString:
    """The reason, with its limit, for a refusal of a valid form."""
    config = current_host().config
    if isinstance(error, LowDiskSpace):
        return NO_SPACE_FOR_FILES
    if isinstance(error, TooManyAttachments):
        return TOO_MANY_FILES % {"count": format_decimal(config.max_attachments)}
    if isinstance(error, RequestEntityTooLarge):
        return FILES_TOO_LARGE % {"size": format_size(config.max_upload_bytes)}
    if isinstance(error, TooManyRequests):
        return TOO_MANY_REPORTS % {"count": format_decimal(config.submissions_per_minute)}
    return HOST_BUSY


def _report_page(
    form: ReportForm, status: int, problem: object = "", files_not_kept: int = 0
) -> tuple[str, int]:
    categories = current_host().config.categories
    page = render_template(
        "report.html",
        form=form,
        categories=categories,
        files_not_kept=files_not_kept,
        problem=problem,
        no_screenshot_categories=NO_SCREENSHOT_CATEGORIES,
    )
    return page, status


@blueprint.get("/")
def index() -> str:
    return render_template("index.html")


@blueprint.route("/report", methods=["GET", "POST"])
@accepts_uploads
def report() -> tuple[str, int] | str:
    categories = current_host().config.categories
    form = ReportForm(categories=categories)
    if not form.is_submitted():
        return _report_page(form, 200)
    try:
        attachments = sealed_attachments()
    except (RequestEntityTooLarge, LowDiskSpace) as refused:  # the answers were read
        return _report_page(form, refused.code or 413, _refusal_problem(refused), files_not_kept=1)
    form.attachment_count = len(attachments)
    if not form.validate_on_submit():
        expired = bool(form.csrf_token.errors)
        dropped = len(attachments) or int(bool(dropped_upload_bytes()))
        return _report_page(form, 400, FORM_EXPIRED if expired else "", files_not_kept=dropped)
    host = current_host()
    content = ReportBody(
        category=form.category.data or "",
        urls=form.urls.urls,
        description=form.description.data or "",
        language=str(get_locale()),
        platform=(form.platform.data or "").strip(),
        account=(form.account.data or "").strip(),
        seen_on=form.seen_on.date.isoformat() if form.seen_on.date else "",
        good_faith=bool(form.good_faith.data),
        attachments=finish_attachments(attachments),
    )
    identity = None
    if form.identity_given():
        identity = IdentitySection(
            full_name=form.full_name.data or "",
            national_id=form.national_id.data or "",
            phone=form.phone.data or "",
            email=form.email.data or "",
            city=form.city.data or "",
        )
    token = form.form_token.data or None
    if form_tokens.is_spent(db_session(), token):  # a reload: no budget, no argon2id
        return already_sent()
    try:
        # Budget is spent only now, by a form that passed every cheap check.
        spend_submission(with_files=bool(attachments))
        receipt = submit_report(
            db_session(),
            host.store,
            host.recipient_set,
            content,
            identity,
            attachments,
            form_token=token,
            kdf_slot=lambda: argon2_slot(for_report=True),
        )
    except form_tokens.AlreadySubmitted:  # the same form, committed a moment before
        return already_sent()
    except (TooManyRequests, HostBusy) as refused:
        return _report_page(form, refused.code or 429, _refusal_problem(refused), len(attachments))
    code = receipt.code.grouped()
    return render_template(
        "receipt.html",
        code=code,
        attachment_count=len(attachments),
        download_form=ReceiptDownloadForm(code=code),
    )


def already_sent(followup: bool = False) -> tuple[str, int]:
    """The answer to a second POST of one report or follow-up form: nothing was filed twice."""
    return render_template("already_sent.html", followup=followup), 409


@blueprint.post("/receipt.txt")
def receipt_text() -> Response:
    """The code the reporter posts back, as a text file; it is checked, never stored."""
    form = ReceiptDownloadForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        code = ReceiptCode.parse(form.code.data or "")
    except InvalidReceiptCode:
        abort(400)
    text = render_template("receipt.txt", code=code.grouped())
    return Response(
        text.replace("\n", "\r\n"),
        mimetype="text/plain",
        headers={"Content-Disposition": 'attachment; filename="iblagh-receipt.txt"'},
    )


@blueprint.route("/status", methods=["GET", "POST"])
def status() -> tuple[str, int] | str:
    form = StatusForm()
    if not form.validate_on_submit():
        return render_template("status_form.html", form=form), 400 if form.is_submitted() else 200
    try:
        receipt_code = ReceiptCode.parse(form.code.data or "")
    except InvalidReceiptCode:
        form.code.errors = [CODE_SHAPE]
        return render_template("status_form.html", form=form), 400
    spend_code_attempt()
    try:
        with argon2_slot(for_report=False):
            view = read_status(db_session(), current_host().store, receipt_code)
    except UnknownCode:
        form.code.errors = [CODE_UNKNOWN]
        return render_template("status_form.html", form=form), 404
    return render_template(
        "status.html",
        view=view,
        status_labels=STATUS_LABELS,
        reason_labels=REASON_LABELS,
        answer_form=FollowupForm(formdata=None),
    )


@blueprint.route("/followup", methods=["GET", "POST"])
@accepts_uploads
def followup() -> tuple[str, int] | str:
    """More from a reporter: the code is asked again on this form (docs/threat-model.md)."""
    form = FollowupForm()
    attachments: list[SealingFile] = []

    def again(status: int, problem: object = "", files_not_kept: int = 0) -> tuple[str, int]:
        page = render_template(
            "followup.html",
            form=form,
            problem=problem,
            files_not_kept=files_not_kept or len(attachments),
        )
        return page, status

    if not form.is_submitted():
        return again(200)
    try:
        attachments = sealed_attachments()
    except (RequestEntityTooLarge, LowDiskSpace) as refused:
        return again(refused.code or 413, _refusal_problem(refused), files_not_kept=1)
    form.attachment_count = len(attachments)
    if not form.validate_on_submit():
        dropped = int(bool(dropped_upload_bytes()))
        return again(400, FORM_EXPIRED if form.csrf_token.errors else "", files_not_kept=dropped)
    try:
        code = ReceiptCode.parse(form.code.data or "")
    except InvalidReceiptCode:
        form.code.errors = [CODE_SHAPE]
        return again(400)
    host = current_host()
    content = ReportBody(
        category=FOLLOWUP_CATEGORY,
        urls=form.urls.urls,
        description=form.message.data or "",
        language=str(get_locale()),
        attachments=finish_attachments(attachments),
    )
    token = form.form_token.data or None
    if form_tokens.is_spent(db_session(), token):
        return already_sent(followup=True)
    try:
        spend_code_attempt()
        spend_submission(with_files=bool(attachments))
        with argon2_slot(for_report=False):
            submit_followup(
                db_session(),
                host.store,
                host.recipient_set,
                code,
                content,
                attachments,
                form_token=token,
            )
    except form_tokens.AlreadySubmitted:
        return already_sent(followup=True)
    except UnknownCode:
        form.code.errors = [CODE_UNKNOWN]
        return again(404)
    except (TooManyRequests, HostBusy) as refused:
        return again(refused.code or 429, _refusal_problem(refused))
    return render_template("followup_sent.html", attachment_count=len(attachments))


@blueprint.get("/transparency/<name>")
def transparency(name: str) -> Response:
    """A transparency report the unit published (docs/retention.md): static HTML, no script,
    put into DATA_DIR/transparency by the sync API as ``2026-Q4.ar.html``, and its PDF
    ``2026-Q4.ar.pdf``."""
    # The names the sync API accepts (crypto/sync_api.py), and only those.
    if not is_transparency_name(name):
        abort(404)
    mimetype = "application/pdf" if name.endswith(".pdf") else "text/html"
    folder = pages_folder(current_host().config.data_dir)
    return send_from_directory(folder, name, mimetype=mimetype, max_age=3600)
