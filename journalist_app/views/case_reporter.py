"""The reporter from the case page: replies in their language, and the guarded identity reveal."""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.errors import PermissionDenied, ReporterKeyMismatch, ReporterKeyUnchecked
from journalist_app.models import ReportTriage
from journalist_app.roles import Permission
from journalist_app.triage.errors import (
    CaseNotFound,
    IdentityNotBound,
    InvalidTransition,
    RevealRefused,
    UnknownReplyTemplate,
)
from journalist_app.triage.forms import ReplyForm, RevealForm
from journalist_app.triage.identity import MIN_REASON_CHARS, reveal_identity
from journalist_app.triage.ingest import index_report
from journalist_app.triage.reply_templates import (
    RIGHT_TO_LEFT,
    TEMPLATES,
    reporter_language,
    template,
)
from journalist_app.triage.workflow import get_case, report_of_case, send_reply
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state

blueprint = Blueprint("case_reporter", __name__)


@blueprint.errorhandler(PermissionDenied)
def _denied(_error: PermissionDenied) -> tuple[str, int]:
    return render_template("error.html", message=_("Your role does not allow this action.")), 403


def _triage_or_404(case_id: int, report_id: str) -> ReportTriage:
    try:
        get_case(db(), case_id)
        return report_of_case(db(), case_id, report_id)
    except CaseNotFound:
        abort(404)


@blueprint.route("/cases/<int:case_id>/reports/<report_id>/reply", methods=["GET", "POST"])
@permission_required(Permission.REPLIES_SEND)
def reply(case_id: int, report_id: str) -> Response | str:
    _triage_or_404(case_id, report_id)
    # Replies go to the reporter key sealed in the body: a report nobody has read yet is
    # read first, which also checks that key against the one the public host listed.
    index_report(db(), state().blob_store, g.keyring, report_id)
    triage = db().get(ReportTriage, report_id)
    if triage is None:
        abort(404)
    if triage.case_id != case_id:
        # Reading it grouped the report into another case: reply from there.
        return redirect(url_for("case_reporter.reply", case_id=triage.case_id, report_id=report_id))
    language = reporter_language(triage.language)
    form = ReplyForm()
    if request.method == "GET":
        chosen = request.args.get("template", TEMPLATES[0].id)
        try:
            form.template.data = template(chosen).id
        except UnknownReplyTemplate:
            abort(404)
        form.message.data = template(chosen).text(language)
    elif form.validate_on_submit():
        try:
            send_reply(
                db(),
                g.keyring,
                case_id,
                report_id,
                form.template.data or "",
                form.message.data or "",
            )
        except (UnknownReplyTemplate, InvalidTransition):
            flash(_("Choose a template and write a message."), "error")
        except (ReporterKeyMismatch, ReporterKeyUnchecked):
            db().rollback()
            flash(
                _(
                    "No reply can be sealed for this report: it has not been read yet, or "
                    "the reporter key the public host listed is not the one sealed in it."
                ),
                "error",
            )
        else:
            flash(_("The reply is sealed to the reporter and leaves at the next sync."), "info")
            return redirect(url_for("cases.detail", case_id=case_id))
    return render_template(
        "cases/reply.html",
        case_id=case_id,
        report_id=report_id,
        form=form,
        templates=TEMPLATES,
        reporter_language=language,
        reporter_direction="rtl" if language in RIGHT_TO_LEFT else "ltr",
    )


@blueprint.post("/cases/<int:case_id>/reports/<report_id>/identity")
@permission_required(Permission.IDENTITY_REVEAL)
def reveal(case_id: int, report_id: str) -> Response | str | tuple[str, int]:
    _triage_or_404(case_id, report_id)
    form = RevealForm(prefix="reveal")
    if not form.validate_on_submit():
        flash(
            _(
                "Write why the identity is needed, in at least %(count)d characters.",
                count=MIN_REASON_CHARS,
            ),
            "error",
        )
        return redirect(url_for("cases.detail", case_id=case_id))
    try:
        identity = reveal_identity(
            db(), state().blob_store, g.keyring, case_id, report_id, form.reason.data or ""
        )
    except CaseNotFound:
        abort(404)
    except IdentityNotBound:
        flash(
            _(
                "Warning: the identity that arrived is not the one this report was sent with "
                "(the public host moved, dropped or replaced it, or the report is too old to "
                "bind one). It was not shown, and the refusal is in the audit log."
            ),
            "error",
        )
        return redirect(url_for("cases.detail", case_id=case_id))
    except RevealRefused:
        flash(
            _(
                "The identity was not revealed: the reason is too short, the reporter stayed "
                "anonymous, or the identity does not open with your keys."
            ),
            "error",
        )
        return redirect(url_for("cases.detail", case_id=case_id))
    return render_template(
        "cases/identity.html",
        case_id=case_id,
        report_id=report_id,
        identity=identity,
        reason=" ".join((form.reason.data or "").split()),
    )
