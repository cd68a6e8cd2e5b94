"""The officer's own account: choosing a passphrase (required after an admin's one-time one),
and their security keys (views/security_keys.py)."""

from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app.accounts.login import session_state
from journalist_app.accounts.officers import change_own_passphrase
from journalist_app.accounts.passphrase import MAX_PASSPHRASE_LENGTH, MIN_PASSPHRASE_LENGTH
from journalist_app.errors import BadCredentials, WeakPassphrase
from journalist_app.roles import Permission
from journalist_app.views import security_keys
from journalist_app.views.access import home_endpoint, permission_required
from journalist_app.views.client import current_client
from journalist_app.views.context import begin_session, db, state
from journalist_app.views.forms import ChangePassphraseForm

blueprint = Blueprint("account", __name__, url_prefix="/account")
# The officer's security keys live under /account/security-keys (views/security_keys.py).
blueprint.register_blueprint(security_keys.blueprint)


@blueprint.route("/passphrase", methods=["GET", "POST"])
@permission_required(Permission.SESSION)
def passphrase() -> Response | str | tuple[str, int]:
    form = ChangePassphraseForm()
    forced = session_state(db(), g.keyring) == "must_change_passphrase"
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return _page(form, forced), status
    new = form.new.data or ""
    problem = policy_problem(new, g.keyring.username)
    if problem:
        flash(problem, "error")
        return _page(form, forced), 400
    try:
        keyring = change_own_passphrase(
            db(),
            g.keyring,
            form.current.data or "",
            new,
            params=state().config.wrap_params,
            client=current_client(),
        )
    except BadCredentials:
        flash(_("The current passphrase is wrong."), "error")
        return _page(form, forced), 400
    except WeakPassphrase:
        flash(_("The new passphrase must differ from the current one."), "error")
        return _page(form, forced), 400
    begin_session(keyring)
    flash(_("Your passphrase is changed. Your other sessions were ended."), "info")
    return redirect(url_for(home_endpoint(keyring.role)))


def policy_problem(passphrase: str, username: str) -> str | None:
    """The passphrase policy (custody.check_passphrase) in the officer's language."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        return str(
            _("A passphrase needs at least %(count)d characters.", count=MIN_PASSPHRASE_LENGTH)
        )
    if len(passphrase) > MAX_PASSPHRASE_LENGTH:
        return str(_("A passphrase has at most %(count)d characters.", count=MAX_PASSPHRASE_LENGTH))
    if username.casefold() in passphrase.casefold():
        return str(_("A passphrase must not contain your username."))
    return None


def _page(form: ChangePassphraseForm, forced: bool) -> str:
    return render_template(
        "account/passphrase.html", form=form, forced=forced, minimum=MIN_PASSPHRASE_LENGTH
    )
