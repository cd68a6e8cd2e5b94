"""Handing on unit keys: an officer who holds them grants them to accounts that need them."""

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.accounts import resets
from journalist_app.errors import OfficerNotFound, PermissionDenied
from journalist_app.keys import grants as key_grants
from journalist_app.roles import Permission
from journalist_app.views.access import permission_required
from journalist_app.views.context import db
from journalist_app.views.forms import ActionForm, ApproveResetForm

blueprint = Blueprint("keys", __name__, url_prefix="/keys")


@blueprint.get("/grants")
@permission_required(Permission.KEYS_GRANT)
def grants() -> str:
    return render_template(
        "keys/grants.html",
        pending=key_grants.pending_grants(db(), g.keyring),
        resets=resets.resets_to_approve(db(), g.keyring),
        form=ActionForm(),
        approve_form=ApproveResetForm(),
    )


@blueprint.post("/resets/<username>/approve")
@permission_required(Permission.KEYS_GRANT)
def approve_reset(username: str) -> Response | tuple[str, int]:
    form = ApproveResetForm()
    if not form.validate_on_submit():
        flash(_("Tick the box to confirm you checked with the officer in person."), "error")
        return grants(), 400
    try:
        resets.approve_reset(db(), g.keyring, username)
    except OfficerNotFound:
        abort(404)
    except PermissionDenied:
        flash(
            _(
                "You cannot approve this reset: only a supervisor other than the officer and "
                "the admin who reset it approves, after the officer chose their passphrase."
            ),
            "error",
        )
        return redirect(url_for("keys.grants"))
    flash(_("Reset of %(name)s approved: you can now grant their keys.", name=username), "info")
    return redirect(url_for("keys.grants"))


@blueprint.post("/grants/<username>")
@permission_required(Permission.KEYS_GRANT)
def grant(username: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        granted = key_grants.grant_keys(db(), g.keyring, username)
    except OfficerNotFound:
        abort(404)
    except PermissionDenied:
        flash(
            _(
                "%(name)s must first choose their own passphrase, and a reset of their "
                "passphrase must be approved.",
                name=username,
            ),
            "error",
        )
        return redirect(url_for("keys.grants"))
    flash(
        _("%(count)d keys granted to %(name)s.", count=len(granted), name=username),
        "info",
    )
    return redirect(url_for("keys.grants"))
