"""Logging in unlocks the officer's keys into server memory; logging out forgets them."""

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.custody import unlock
from journalist_app.errors import BadCredentials, CorruptGrant
from journalist_app.forms import LoginForm
from journalist_app.views.context import begin_session, current_keyring, db, end_session, state

blueprint = Blueprint("auth", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    if current_keyring() is not None:
        return redirect(url_for("reports.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    try:
        keyring = unlock(
            db(), form.username.data or "", form.passphrase.data or "", state().config.wrap_params
        )
    except (BadCredentials, CorruptGrant):
        # One message for every failure: it must not tell which part was wrong.
        flash(_("Login failed. Check your username and passphrase."), "error")
        return render_template("login.html", form=form), 401
    begin_session(keyring)
    return redirect(url_for("reports.index"))


@blueprint.post("/logout")
def logout() -> Response:
    end_session()
    flash(_("You are logged out. Your keys were removed from memory."), "info")
    return redirect(url_for("auth.login"))
