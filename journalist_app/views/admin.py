"""Account administration: officers, their roles, passphrase and 2FA resets, lockouts.

An admin sees and manages accounts, never reports. Each action is an accounts.* service
call, which checks the permission again and writes the audit entry.
"""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.accounts import officers as accounts
from journalist_app.accounts.throttle import lockout_alerts
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.clock import utc_now
from journalist_app.errors import (
    InvalidUsername,
    KeysNotInitialised,
    KeyWouldBeLost,
    OfficerExists,
    OfficerNotFound,
    PermissionDenied,
)
from journalist_app.roles import Permission, Role
from journalist_app.sync.refusals import refused_submissions
from journalist_app.views.access import permission_required
from journalist_app.views.context import db, state
from journalist_app.views.forms import ActionForm, NewOfficerForm, RemoveOfficerForm

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.get("/officers")
@permission_required(Permission.ACCOUNTS_MANAGE)
def officers() -> str:
    now = utc_now()
    return render_template(
        "admin/officers.html",
        accounts=accounts.list_accounts(db(), g.keyring),
        alerts=lockout_alerts(db(), now),
        form=ActionForm(),
        remove_form=RemoveOfficerForm(),
        now=now,
    )


@blueprint.get("/refused-submissions")
@permission_required(Permission.SETTINGS_MANAGE)
def refused() -> str:
    """Submissions the sync skipped past, and why: a refusal must never pass unseen."""
    return render_template("admin/refused.html", refused=refused_submissions(db()))


@blueprint.route("/officers/new", methods=["GET", "POST"])
@permission_required(Permission.ACCOUNTS_MANAGE)
def new_officer() -> str | tuple[str, int]:
    form = NewOfficerForm()
    if not form.validate_on_submit():
        return render_template("admin/new_officer.html", form=form), (
            400 if form.is_submitted() else 200
        )
    config = state().config
    try:
        created = accounts.create_officer(
            db(),
            g.keyring,
            form.username.data or "",
            Role(form.role.data),
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
        )
    except InvalidUsername:
        flash(_("A username is 1 to 64 letters, digits, dots, dashes or underscores."), "error")
        return render_template("admin/new_officer.html", form=form), 400
    except OfficerExists:
        flash(_("This username is taken."), "error")
        return render_template("admin/new_officer.html", form=form), 400
    except KeysNotInitialised:
        flash(_("The unit keys do not exist yet: run 'iblagh-officer keys init' first."), "error")
        return render_template("admin/new_officer.html", form=form), 400
    return render_template(
        "admin/handover.html",
        username=created.username,
        passphrase=created.one_time_passphrase,
        enrolment=created.enrolment,
        created=True,
    )


@blueprint.post("/officers/<username>/remove")
@permission_required(Permission.ACCOUNTS_MANAGE)
def remove(username: str) -> Response:
    form = RemoveOfficerForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        accounts.remove_officer(db(), g.keyring, username, force=bool(form.force.data))
    except OfficerNotFound:
        abort(404)
    except PermissionDenied:
        flash(_("You cannot remove your own account."), "error")
    except KeyWouldBeLost:
        flash(
            _(
                "%(name)s is the last holder of an active unit key. Have the key granted to "
                "someone else first, or tick the box to remove the account anyway.",
                name=username,
            ),
            "error",
        )
    else:
        flash(_("Account %(name)s removed, with every key granted to it.", name=username), "info")
    return redirect(url_for("admin.officers"))


@blueprint.post("/officers/<username>/reset-passphrase")
@permission_required(Permission.ACCOUNTS_MANAGE)
def reset_passphrase(username: str) -> Response | str:
    _checked_form()
    try:
        passphrase = accounts.reset_passphrase(
            db(), g.keyring, username, params=state().config.wrap_params
        )
    except OfficerNotFound:
        abort(404)
    except PermissionDenied:
        flash(_("Change your own passphrase from your account page."), "error")
        return redirect(url_for("admin.officers"))
    return render_template(
        "admin/handover.html", username=username, passphrase=passphrase, enrolment=None
    )


@blueprint.post("/officers/<username>/reset-2fa")
@permission_required(Permission.ACCOUNTS_MANAGE)
def reset_second_factor(username: str) -> str:
    _checked_form()
    try:
        enrolment = accounts.reset_second_factor(
            db(), g.keyring, username, totp_key=load_or_create_totp_key(state().config.data_dir)
        )
    except OfficerNotFound:
        abort(404)
    return render_template(
        "admin/handover.html", username=username, passphrase=None, enrolment=enrolment
    )


@blueprint.post("/officers/<username>/unlock")
@permission_required(Permission.ACCOUNTS_MANAGE)
def unlock(username: str) -> Response:
    _checked_form()
    try:
        accounts.unlock_account(db(), g.keyring, username)
    except OfficerNotFound:
        abort(404)
    flash(_("The lockout of %(name)s is lifted.", name=username), "info")
    return redirect(url_for("admin.officers"))


def _checked_form() -> None:
    if not ActionForm().validate_on_submit():
        abort(400)
