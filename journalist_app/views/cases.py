"""The triage queue and the case page, with the case's workflow actions.

Each view parses its input, calls one triage service (journalist_app/triage/), and
renders or redirects with a translated message. Permissions are checked twice: here
(``permission_required``, so the guard knows each route's rule) and in the service.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from journalist_app.clock import utc_now
from journalist_app.diagnostics.urls import diagnose_url
from journalist_app.errors import PermissionDenied
from journalist_app.i18n import current_language
from journalist_app.models import Case, HashMatch
from journalist_app.roles import Permission
from journalist_app.triage import statuses
from journalist_app.triage.binding import binding_of, problems_of
from journalist_app.triage.cases import CaseView, open_case
from journalist_app.triage.categories import PRIORITIES, active_categories, category_label
from journalist_app.triage.errors import (
    CaseNotFound,
    GroupingRefused,
    InvalidTransition,
    MissingCloseReason,
    UnknownOfficer,
    UnknownTerritory,
)
from journalist_app.triage.exposure import exposure_today, hash_matches_of
from journalist_app.triage.forms import (
    AssignForm,
    MergeForm,
    RevealForm,
    SplitForm,
    StatusForm,
    TerritoryForm,
)
from journalist_app.triage.grouping import merge_cases, split_case
from journalist_app.triage.ingest import index_pending
from journalist_app.triage.notes import add_note
from journalist_app.triage.queue import Cursor, parse_filters, queue_page, with_counts
from journalist_app.triage.rendering import clean_text
from journalist_app.triage.reply_templates import TEMPLATES
from journalist_app.triage.search import related_cases
from journalist_app.triage.territories import regions, territories
from journalist_app.triage.workflow import (
    assign_case,
    assignable_officers,
    change_status,
    set_territory,
)
from journalist_app.views.access import permission_required
from journalist_app.views.binding_labels import problem_label
from journalist_app.views.case_files import is_revealed
from journalist_app.views.context import db, state
from journalist_app.views.forms import ActionForm

blueprint = Blueprint("cases", __name__)


@blueprint.app_template_filter("clean_text")
def _clean_text_filter(text: str) -> str:
    return clean_text(text)


@blueprint.app_context_processor
def _triage_labels() -> dict[str, object]:
    return {
        "status_labels": statuses.STATUS_LABELS,
        "reporter_status_labels": statuses.REPORTER_STATUS_LABELS,
        "reply_template_labels": {t.id: t.label for t in TEMPLATES},
        "close_reason_labels": statuses.CLOSE_REASON_LABELS,
        "priorities": PRIORITIES,
        "category_label": category_label,
        "territory_name": _territory_name,
        "diagnose_url": diagnose_url,
        "file_matches": _file_matches,
        "media_revealed": is_revealed,
        "exposure_today": _exposure_today,
        "match_reason": _match_reason,
        "new_case_count": _new_case_count,
        "status_choices": statuses.STATUSES,
        "binding_problems": _binding_problems,
        "binding_problem_label": problem_label,
    }


def _binding_problems(report_id: str) -> list[str]:
    """What did not match the report's sealed body (journalist_app/triage/binding.py)."""
    return problems_of(binding_of(db(), report_id))


def _new_case_count() -> int:
    """Cases nobody has triaged yet, for the header (one index range: ix_cases_status_due)."""
    return int(db().scalar(select(func.count()).select_from(Case).where(Case.status == "new")) or 0)


def _match_reason(reason: str) -> str:
    if reason.startswith("pdq:"):
        return str(_("similar picture (%(bits)s bits apart)", bits=reason[4:]))
    labels = {
        "number": _("case number"),
        "address": _("same address"),
        "file": _("same file"),
        "account": _("same account"),
        "platform": _("platform"),
        "words": _("words"),
        "similar media": _("similar picture"),
    }
    return str(labels[reason]) if reason in labels else reason


def _file_matches(report_id: str, name: str) -> list[HashMatch]:
    return hash_matches_of(db(), report_id, name)


def _exposure_today() -> int | None:
    keyring = g.get("keyring")
    return exposure_today(db(), keyring.username) if keyring is not None else None


def _territory_name(code: str | None) -> str:
    territory = territories().get(code or "")
    if territory is None:
        return code or ""
    language = current_language()
    return f"{territory.name(language)} ({territory.region_name(language)})"


@blueprint.errorhandler(PermissionDenied)
def _denied(_error: PermissionDenied) -> tuple[str, int]:
    return render_template("error.html", message=_("Your role does not allow this action.")), 403


# --- the queue --------------------------------------------------------------------------


@blueprint.get("/cases")
@permission_required(Permission.REPORTS_LIST)
def queue() -> str:
    now = utc_now()
    filters = parse_filters(request.args.to_dict())
    page = queue_page(
        db(),
        g.keyring,
        filters,
        after=Cursor.decode(request.args.get("after", "")),
        before=Cursor.decode(request.args.get("before", "")),
        now=now,
        officer_id=g.keyring.officer_id,
    )
    return render_template(
        "cases/queue.html",
        page=with_counts(db(), page, now),
        now=now,
        categories=active_categories(),
        regions=regions(),
        officers=assignable_officers(db()),
        status_filters=[("open", _("Open (new, triaged, under investigation)")), ("all", _("All"))]
        + [(status, str(statuses.STATUS_LABELS[status])) for status in statuses.STATUSES],
        form=ActionForm(),
    )


@blueprint.post("/cases/index")
@permission_required(Permission.REPORTS_READ)
def index_now() -> Response:
    if ActionForm().validate_on_submit():
        result = index_pending(db(), state().blob_store, g.keyring)
        flash(
            _(
                "%(indexed)d reports read and grouped, %(other)d need another officer's keys, "
                "%(damaged)d cannot be read.",
                indexed=result.indexed,
                other=result.not_for_me,
                damaged=result.damaged,
            ),
            "info",
        )
    return redirect(url_for("cases.queue"))


# --- one case ---------------------------------------------------------------------------


@blueprint.get("/cases/<int:case_id>")
@permission_required(Permission.REPORTS_READ)
def detail(case_id: int) -> str:
    try:
        view = open_case(db(), state().blob_store, g.keyring, case_id)
    except CaseNotFound:
        abort(404)
    return render_case(view)


def render_case(view: CaseView, reveal_form: RevealForm | None = None) -> str:
    case = view.case
    status_form = StatusForm(prefix="status")
    status_form.status.choices = [
        (target, str(statuses.STATUS_LABELS[target]))
        for target in statuses.TRANSITIONS.get(case.status, ())
    ]
    status_form.reason.choices = [("", "—")] + [
        (reason, str(label)) for reason, label in statuses.CLOSE_REASON_LABELS.items()
    ]
    assign_form = AssignForm(prefix="assign", officer=str(case.assignee_id or ""))
    assign_form.officer.choices = [("", _("Nobody"))] + [
        (str(officer.id), officer.username) for officer in assignable_officers(db())
    ]
    territory_form = TerritoryForm(prefix="territory")
    split_form = SplitForm(prefix="split")
    return render_template(
        "cases/detail.html",
        view=view,
        case=case,
        now=utc_now(),
        status_form=status_form,
        assign_form=assign_form,
        territory_form=territory_form,
        merge_form=MergeForm(prefix="merge"),
        split_form=split_form,
        reveal_form=reveal_form or RevealForm(prefix="reveal"),
        templates=TEMPLATES,
        regions=regions(),
        show_pictures=not view.pictures_on_request or request.args.get("pictures") == "1",
        related=related_cases(db(), g.keyring, case.id),
        officers=assignable_officers(db()),
    )


def _back(case_id: int) -> Response:
    return redirect(url_for("cases.detail", case_id=case_id))


def _form_error() -> None:
    flash(_("The form was incomplete or no longer matches the case. Nothing was changed."), "error")


@blueprint.post("/cases/<int:case_id>/status")
@permission_required(Permission.CASES_UPDATE)
def status(case_id: int) -> Response:
    form = StatusForm(prefix="status")
    form.status.choices = [(s, s) for s in statuses.STATUSES]
    form.reason.choices = [("", "")] + [(r, r) for r in statuses.CLOSE_REASON_LABELS]
    if not form.validate_on_submit():
        _form_error()
        return _back(case_id)
    try:
        case = change_status(
            db(), g.keyring, case_id, form.status.data or "", form.reason.data or None
        )
    except CaseNotFound:
        abort(404)
    except InvalidTransition:
        flash(_("This status change is not allowed from the case's current status."), "error")
    except MissingCloseReason:
        flash(_("Choose why the case is closed."), "error")
    else:
        flash(_("The case is now: %(status)s.", status=statuses.STATUS_LABELS[case.status]), "info")
    return _back(case_id)


@blueprint.post("/cases/<int:case_id>/assign")
@permission_required(Permission.CASES_ASSIGN)
def assign(case_id: int) -> Response:
    form = AssignForm(prefix="assign")
    form.officer.choices = [("", "")] + [(str(o.id), o.username) for o in assignable_officers(db())]
    if not form.validate_on_submit():
        _form_error()
        return _back(case_id)
    officer = int(form.officer.data) if form.officer.data else None
    try:
        assign_case(db(), g.keyring, case_id, officer)
    except CaseNotFound:
        abort(404)
    except UnknownOfficer:
        _form_error()
    else:
        flash(_("Assignment saved."), "info")
    return _back(case_id)


@blueprint.post("/cases/<int:case_id>/territory")
@permission_required(Permission.CASES_UPDATE)
def territory(case_id: int) -> Response:
    form = TerritoryForm(prefix="territory")
    form.territory.choices = [("", "")] + [(code, code) for code in territories()]
    if not form.validate_on_submit():
        _form_error()
        return _back(case_id)
    try:
        set_territory(db(), g.keyring, case_id, form.territory.data or None)
    except CaseNotFound:
        abort(404)
    except UnknownTerritory:
        _form_error()
    else:
        flash(_("Territory saved."), "info")
    return _back(case_id)


@blueprint.post("/cases/<int:case_id>/merge")
@permission_required(Permission.CASES_UPDATE)
def merge(case_id: int) -> Response:
    form = MergeForm(prefix="merge")
    if not form.validate_on_submit() or form.other_case.data is None:
        flash(_("Give the number of another case."), "error")
        return _back(case_id)
    try:
        merge_cases(db(), g.keyring, case_id, form.other_case.data, utc_now())
    except CaseNotFound:
        flash(_("There is no case with this number."), "error")
    except GroupingRefused:
        flash(
            _(
                "These cases cannot be merged: a case cannot be merged into itself, twice, "
                "or into a closed case (reopen it first)."
            ),
            "error",
        )
    else:
        flash(_("Case %(other)s was merged into this case.", other=form.other_case.data), "info")
    return _back(case_id)


@blueprint.post("/cases/<int:case_id>/split")
@permission_required(Permission.CASES_UPDATE)
def split(case_id: int) -> Response:
    form = SplitForm(prefix="split")
    chosen = request.form.getlist("split-reports")
    form.reports.choices = [(report_id, report_id) for report_id in chosen]
    if not form.validate_on_submit() or not chosen:
        flash(_("Choose the reports to move to a new case."), "error")
        return _back(case_id)
    try:
        new = split_case(db(), g.keyring, case_id, list(form.reports.data or []), utc_now())
    except CaseNotFound:
        abort(404)
    except GroupingRefused:
        flash(_("Choose some reports of this case, and leave at least one in it."), "error")
        return _back(case_id)
    flash(_("The chosen reports now form case %(number)s.", number=new.id), "info")
    return _back(new.id)


@blueprint.post("/cases/<int:case_id>/notes")
@permission_required(Permission.REPORTS_READ)
def note(case_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        _form_error()
        return _back(case_id)
    try:
        add_note(db(), g.keyring, case_id, request.form.get("text", ""))
    except CaseNotFound:
        abort(404)
    except InvalidTransition:
        flash(_("Write the note first (at most 20,000 characters)."), "error")
    else:
        flash(_("The note is sealed and added to the case."), "info")
    return _back(case_id)
