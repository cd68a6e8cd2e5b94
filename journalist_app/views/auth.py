"""Logging in (passphrase and TOTP code) unlocks the officer's keys into server memory;
logging out forgets them."""

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app import audit
from journalist_app.accounts.login import log_in, session_state
from journalist_app.accounts.throttle import client_tag, load_or_create_client_key
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.errors import BadCredentials, CorruptGrant
from journalist_app.roles import Permission
from journalist_app.views.access import home_endpoint, permission_required
from journalist_app.views.context import begin_session, current_keyring, db, end_session, state
from journalist_app.views.forms import LoginForm

blueprint = Blueprint("auth", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    keyring = current_keyring()
    if keyring is not None:
        return redirect(url_for(home_endpoint(keyring.role)))
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form)
    config = state().config
    try:
        keyring = log_in(
            db(),
            form.username.data or "",
            form.passphrase.data or "",
            form.code.data or "",
            params=config.wrap_params,
            totp_key=load_or_create_totp_key(config.data_dir),
            client=current_client(),
        )
    except (BadCredentials, CorruptGrant):
        # One message for every failure, a locked account included: it must not tell
        # which part was wrong, nor whether the account exists.
        flash(
            _(
                "Login failed. Check your username, passphrase and two-factor code. After "
                "repeated failures an account is locked for a while."
            ),
            "error",
        )
        return render_template("login.html", form=form), 401
    begin_session(keyring)
    if session_state(db(), keyring) == "must_change_passphrase":
        return redirect(url_for("account.passphrase"))
    return redirect(url_for(home_endpoint(keyring.role)))


def current_client() -> str:
    """The client this request came from, as login throttling counts it: a keyed hash of
    the peer address (accounts/throttle.py). No proxy header is trusted: on the isolated
    officer host the peer is the officer's machine."""
    key = load_or_create_client_key(state().config.data_dir)
    return client_tag(key, request.remote_addr or "")


@blueprint.post("/logout")
@permission_required(Permission.SESSION)
def logout() -> Response:
    audit.record(db(), g.keyring, audit.Action.LOGOUT, audit.officer_target(g.keyring.username))
    db().commit()
    end_session()
    flash(_("You are logged out. Your keys were removed from memory."), "info")
    return redirect(url_for("auth.login"))
