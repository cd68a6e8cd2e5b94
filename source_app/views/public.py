"""The pages a reporter sees: home, report form, receipt, status."""

from flask import Blueprint, render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from crypto.contents import IdentitySection, ReportBody
from crypto.errors import InvalidReceiptCode
from crypto.receipt import ReceiptCode
from source_app.categories import DEFAULT_CATEGORIES
from source_app.forms import ReportForm, StatusForm
from source_app.host import current_host, db_session
from source_app.services.status import UnknownCode, read_status
from source_app.services.submission import submit_report

blueprint = Blueprint("public", __name__)

STATUS_LABELS = {
    "received": _l("Received"),
    "under_review": _l("Under review"),
    "referred": _l("Referred to the judicial police"),
    "closed": _l("Closed"),
}
REASON_LABELS = {
    "not_illegal": _l("the content was found not to be illegal"),
    "duplicate": _l("it was already reported"),
    "insufficient_information": _l("there was not enough information to act"),
    "referred": _l("it was referred to the competent authority"),
    "handled": _l("it has been dealt with"),
}


@blueprint.get("/")
def index() -> str:
    return render_template("index.html")


@blueprint.route("/report", methods=["GET", "POST"])
def report() -> tuple[str, int] | str:
    form = ReportForm()
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("report.html", form=form, categories=DEFAULT_CATEGORIES), status
    host = current_host()
    content = ReportBody(
        category=form.category.data or "",
        urls=((form.url.data or "").strip(),),
        description=form.description.data or "",
        language=str(get_locale()),
    )
    identity = None
    if form.identity.data == "identified":
        identity = IdentitySection(full_name=(form.full_name.data or "").strip())
    receipt = submit_report(db_session(), host.store, host.recipient_set, content, identity)
    return render_template("receipt.html", code=receipt.code.grouped())


@blueprint.route("/status", methods=["GET", "POST"])
def status() -> tuple[str, int] | str:
    form = StatusForm()
    if not form.validate_on_submit():
        code = 400 if form.is_submitted() else 200
        return render_template("status_form.html", form=form), code
    try:
        receipt_code = ReceiptCode.parse(form.code.data or "")
    except InvalidReceiptCode:
        form.code.errors = [_l("A receipt code is twenty digits.")]
        return render_template("status_form.html", form=form), 400
    try:
        view = read_status(db_session(), current_host().store, receipt_code)
    except UnknownCode:
        form.code.errors = [_l("No report matches this code. Check the digits and try again.")]
        return render_template("status_form.html", form=form), 404
    return render_template(
        "status.html", view=view, status_labels=STATUS_LABELS, reason_labels=REASON_LABELS
    )
