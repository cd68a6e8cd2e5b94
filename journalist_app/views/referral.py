"""The referral page of a case: proposal, build (one action), send, acknowledgement.

Each view parses its input, calls one service of journalist_app/referral/, and renders
or redirects with a translated message; a refusal's ``code`` picks the message.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from journalist_app.clock import utc_now
from journalist_app.errors import MissingKey
from journalist_app.i18n import current_language
from journalist_app.models import Case, Referral
from journalist_app.referral.acknowledgement import MAX_ACK_BYTES, import_acknowledgement
from journalist_app.referral.deadlines import (
    LateCase,
    QueueDeadline,
    overdue_acknowledgements,
    overdue_referrals,
    queue_deadlines,
)
from journalist_app.referral.directory import current_directory, directory_by_hash, propose
from journalist_app.referral.documents import TAKEDOWN_LANGUAGES
from journalist_app.referral.errors import ReferralRefused
from journalist_app.referral.packet import ReferralRequest, build_packet, packet_file
from journalist_app.referral.sending import get_referral, mark_sent, referrals_of
from journalist_app.referral.takedown import build_takedown, mark_removed
from journalist_app.referral.unit_key import current_unit_key
from journalist_app.roles import Permission, has_permission
from journalist_app.triage.errors import CaseNotFound
from journalist_app.triage.workflow import get_case
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state
from journalist_app.views.forms import ActionForm

blueprint = Blueprint("referral", __name__)

REFUSALS = {
    "no_unit_key": _l("The unit has no OpenPGP key yet: a supervisor makes it first."),
    "no_key": _l(
        "A chosen unit or prosecutor has no OpenPGP key in the directory: import a "
        "directory that gives it."
    ),
    "key_refused": _l(
        "A chosen unit's or prosecutor's key is expired, revoked or not the one whose "
        "fingerprint the directory gives. Nothing was built."
    ),
    "unknown_partner": _l("Choose a unit and a prosecutor from the directory."),
    "unknown_qualification": _l("Choose a legal qualification from the list."),
    "override_reason": _l(
        "You chose other recipients than the proposed ones: say why (20 to 2000 characters)."
    ),
    "identity_reason": _l(
        "Including the reporter's identity needs a reason (20 to 2000 characters)."
    ),
    "identity_not_approved": _l("Only a supervisor may include a reporter's identity."),
    "no_identity": _l("No reporter of this case gave their identity."),
    "identity_not_bound": _l(
        "An identity of this case is not the one its report was sent with: nothing was "
        "built. See the warnings on the case page."
    ),
    "not_indexed": _l("A report of this case is not read yet or cannot be read."),
    "evidence_changed": _l(
        "A file no longer matches what was recorded when it was read. Nothing was built: "
        "check the chain of custody."
    ),
    "wrong_status": _l("The case or the packet is not at a step that allows this."),
    "bad_acknowledgement": _l(
        "This acknowledgement was refused: it must be signed by the unit or the prosecutor "
        "the packet was sent to, and name the packet's SHA-256 and their reference."
    ),
    "not_found": _l("There is no such packet."),
    "statement": _l("Write the statement of reasons (20 to 4000 characters)."),
    "no_urls": _l("The case names no web address to take down."),
}


def refusal_message(exc: ReferralRefused) -> str:
    return str(REFUSALS.get(exc.code, _l("This action was refused.")))


@blueprint.app_context_processor
def _referral_helpers() -> dict[str, object]:
    return {
        "referrals_of_case": _referrals_of_case,
        "overdue_acknowledgements": _overdue_acks,
        "overdue_referrals": _overdue_refer,
        "referral_deadlines": _queue_deadlines,
    }


def _queue_deadlines(cases: list[Case]) -> dict[int, QueueDeadline]:
    if not cases or not has_permission(g.get("keyring"), Permission.REPORTS_LIST):
        return {}
    return queue_deadlines(db(), current_directory(db()), cases, utc_now())


def _referrals_of_case(case_id: int) -> list[Referral]:
    return referrals_of(db(), case_id)


def _overdue_acks() -> list[Referral]:
    if not has_permission(g.get("keyring"), Permission.REPORTS_LIST):
        return []
    return overdue_acknowledgements(db(), utc_now())


def _overdue_refer() -> list[LateCase]:
    if not has_permission(g.get("keyring"), Permission.REPORTS_LIST):
        return []
    return overdue_referrals(db(), current_directory(db()), utc_now())


@blueprint.errorhandler(CaseNotFound)
def _not_found(_error: CaseNotFound) -> tuple[str, int]:
    return render_template("error.html", message=_("There is no such case.")), 404


@blueprint.get("/cases/<int:case_id>/referral")
@permission_required(Permission.REPORTS_READ)
def page(case_id: int) -> str:
    case = get_case(db(), case_id)
    directory = current_directory(db())
    proposal = propose(directory, case.category, case.territory_code)
    return render_template(
        "referral/case.html",
        case=case,
        directory=directory,
        proposal=proposal,
        qualifications=directory.qualifications_for(case.category),
        referrals=referrals_of(db(), case_id),
        directories={
            r.directory_sha256: directory_by_hash(db(), r.directory_sha256)
            for r in referrals_of(db(), case_id)
        },
        unit_key=current_unit_key(db()),
        now=utc_now(),
        form=ActionForm(),
        lang=current_language(),
        takedown_languages=TAKEDOWN_LANGUAGES,
    )


def _back(case_id: int) -> Response:
    return redirect(url_for("referral.page", case_id=case_id))


@blueprint.post("/cases/<int:case_id>/referral")
@permission_required(Permission.REFERRALS_SEND)
def build(case_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        flash(
            _("The form was incomplete or no longer matches the case. Nothing was changed."),
            "error",
        )
        return _back(case_id)
    form = request.form
    request_data = ReferralRequest(
        case_id=case_id,
        police_id=form.get("police", ""),
        prosecutor_id=form.get("prosecutor", ""),
        qualification_id=form.get("qualification", ""),
        override_reason=form.get("override_reason", ""),
        include_identity=form.get("include_identity") == "1",
        identity_reason=form.get("identity_reason", ""),
    )
    try:
        referral = build_packet(
            db(), state().blob_store, g.keyring, state().config.data_dir, request_data
        )
    except ReferralRefused as exc:
        flash(refusal_message(exc), "error")
        return _back(case_id)
    except MissingKey:
        flash(_("Your keys cannot open the unit's OpenPGP key."), "error")
        return _back(case_id)
    flash(
        _(
            "Packet %(reference)s is built, signed and encrypted. Send it next.",
            reference=referral.reference,
        ),
        "info",
    )
    return _back(case_id)


@blueprint.post("/cases/<int:case_id>/takedown")
@permission_required(Permission.REFERRALS_SEND)
def takedown(case_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        flash(
            _("The form was incomplete or no longer matches the case. Nothing was changed."),
            "error",
        )
        return _back(case_id)
    form = request.form
    try:
        referral = build_takedown(
            db(),
            state().blob_store,
            g.keyring,
            state().config.data_dir,
            case_id,
            platform=form.get("platform", ""),
            language=form.get("language", ""),
            qualification_id=form.get("qualification", ""),
            statement=form.get("statement", ""),
        )
    except ReferralRefused as exc:
        flash(refusal_message(exc), "error")
        return _back(case_id)
    flash(
        _(
            "Takedown notice %(reference)s is written and signed. Send it next.",
            reference=referral.reference,
        ),
        "info",
    )
    return _back(case_id)


@blueprint.post("/referrals/<reference>/removed")
@permission_required(Permission.REFERRALS_SEND)
def removed(reference: str) -> Response:
    referral = _referral(reference)
    if ActionForm().validate_on_submit():
        try:
            mark_removed(db(), g.keyring, reference)
        except ReferralRefused as exc:
            flash(refusal_message(exc), "error")
        else:
            flash(_("Recorded: the platform removed the content."), "info")
    return _back(referral.case_id)


@blueprint.post("/referrals/<reference>/send")
@permission_required(Permission.REFERRALS_SEND)
def send(reference: str) -> Response:
    referral = _referral(reference)
    if ActionForm().validate_on_submit():
        mark_sent(db(), g.keyring, referral, via="download")
        flash(
            _(
                "Packet %(reference)s is recorded as sent. Download its files below and hand "
                "them over.",
                reference=reference,
            ),
            "info",
        )
    return _back(referral.case_id)


@blueprint.get("/referrals/<reference>/files/<kind>")
@permission_required(Permission.REFERRALS_SEND)
def download(reference: str, kind: str) -> Response:
    referral = _referral(reference)
    if kind not in referral.files or referral.sent_at is None:
        abort(404)
    path = packet_file(state().config.data_dir, referral, kind)
    # Every copy that leaves is audited with its hash (docs/invariants.md, 12).
    mark_sent(db(), g.keyring, referral, via=f"download:{kind}")
    response = Response(path.read_bytes(), mimetype="application/octet-stream")
    name = str(referral.files[kind]["name"])
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@blueprint.post("/referrals/acknowledgement")
@permission_required(Permission.REFERRALS_SEND)
def acknowledgement() -> Response:
    case_id = request.form.get("case_id", type=int)
    if not ActionForm().validate_on_submit():
        flash(
            _("The form was incomplete or no longer matches the case. Nothing was changed."),
            "error",
        )
        return _back(case_id) if case_id else redirect(url_for("cases.queue"))
    signed = request.form.get("signed", "").encode("utf-8")[: MAX_ACK_BYTES + 1]
    try:
        result = import_acknowledgement(db(), g.keyring, signed)
    except ReferralRefused as exc:
        db().rollback()
        flash(refusal_message(exc), "error")
        return _back(case_id) if case_id else redirect(url_for("cases.queue"))
    flash(
        _(
            "Acknowledged by %(unit)s, their reference %(reference)s.",
            unit=result.signer.name(current_language()),
            reference=result.their_reference,
        ),
        "info",
    )
    return _back(result.referral.case_id)


def _referral(reference: str) -> Referral:
    try:
        return get_referral(db(), reference)
    except ReferralRefused:
        abort(404)
