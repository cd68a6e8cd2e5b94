"""Logging in (passphrase and TOTP code) unlocks the officer's keys into server memory;
logging out forgets them. The session cookie that names the keyring is ``Secure`` unless
the app is plainly served over HTTP on loopback (:class:`OfficerSessionInterface`)."""

import ipaddress
import urllib.parse

from flask import (
    Blueprint,
    Flask,
    Request,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from journalist_app import audit
from journalist_app.accounts.key_login import log_in_passwordless, log_in_with_security_key
from journalist_app.accounts.login import log_in, session_state
from journalist_app.accounts.security_keys import (
    authentication_options,
    decode_prf,
    prf_salt_b64url,
)
from journalist_app.accounts.totp import load_or_create_totp_key
from journalist_app.errors import BadCredentials, CorruptGrant
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.roles import Permission
from journalist_app.views.access import home_endpoint, permission_required
from journalist_app.views.client import current_client
from journalist_app.views.context import begin_session, current_keyring, db, end_session, state
from journalist_app.views.forms import LoginForm, SecurityKeyLoginForm
from journalist_app.views.security_keys import (
    LOGIN,
    relying_party,
    start_ceremony,
    take_ceremony,
)

blueprint = Blueprint("auth", __name__)

# Headers a proxy in front adds: with any of them, the browser may well be on HTTPS.
_PROXY_HEADERS = (
    "Forwarded",
    "X-Forwarded-Proto",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Ssl",
)


def plain_loopback_http(served: Request) -> bool:
    """Was ``served`` plain HTTP to a loopback name, with no proxy in front saying otherwise?

    Only then may the session cookie go without ``Secure`` (``make run`` on
    http://127.0.0.1, the test suites): a browser on https://officer… behind a
    TLS-terminating proxy, or any other host name, gets a ``Secure`` cookie, so it is
    never sent in the clear (issue 9, finding 10).
    """
    if served.scheme != "http" or any(name in served.headers for name in _PROXY_HEADERS):
        return False
    host = urllib.parse.urlsplit("//" + served.host).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OfficerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` by default: ``IBLAGH_COOKIE_SECURE`` forces it on
    loopback too; only plain loopback HTTP (:func:`plain_loopback_http`) goes without."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config["SESSION_COOKIE_SECURE"] or not has_request_context():
            return True
        return not plain_loopback_http(request)


def _install_session_interface(setup: BlueprintSetupState) -> None:
    app = setup.app
    assert isinstance(app, Flask)
    app.session_interface = OfficerSessionInterface()


# The login blueprint owns the session cookie: registering it installs the interface.
blueprint.record_once(_install_session_interface)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Response | str | tuple[str, int]:
    keyring = current_keyring()
    if keyring is not None:
        return redirect(url_for(home_endpoint(keyring.role)))
    if request.method == "POST" and request.form.get("method") == "security-key":
        return _passwordless_login()
    form = LoginForm()
    if not form.validate_on_submit():
        return _login_page(form)
    if not (form.code.data or form.assertion.data):
        flash(_("Type the code your authenticator app shows, or use your security key."), "error")
        return _login_page(form), 400
    config = state().config
    try:
        if form.assertion.data:
            ceremony = take_ceremony(LOGIN)
            if ceremony is None:
                raise BadCredentials("no security key challenge in this session")
            keyring = log_in_with_security_key(
                db(),
                form.username.data or "",
                form.passphrase.data or "",
                form.assertion.data,
                ceremony=ceremony,
                rp=relying_party(),
                params=config.wrap_params,
                client=current_client(),
            )
        else:
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
        return _login_page(form), 401
    return _logged_in(keyring)


def _passwordless_login() -> Response | tuple[str, int]:
    """A security key and its PIN alone (accounts/key_login.py)."""
    form = SecurityKeyLoginForm()
    ceremony = take_ceremony(LOGIN)
    try:
        if not form.validate_on_submit() or ceremony is None:
            raise BadCredentials("no security key answer to check")
        keyring = log_in_passwordless(
            db(),
            form.assertion.data or "",
            decode_prf(form.prf.data or ""),
            ceremony=ceremony,
            rp=relying_party(),
            client=current_client(),
        )
    except (BadCredentials, CorruptGrant):
        flash(
            _(
                "Login with the security key failed. Use a key set up for login without "
                "passphrase, with its PIN, or log in with your passphrase."
            ),
            "error",
        )
        return _login_page(LoginForm(formdata=None)), 401
    return _logged_in(keyring)


def _logged_in(keyring: UnlockedKeyring) -> Response:
    begin_session(keyring)
    if session_state(db(), keyring) == "must_change_passphrase":
        return redirect(url_for("account.passphrase"))
    return redirect(url_for(home_endpoint(keyring.role)))


def _login_page(form: LoginForm) -> str:
    """The login page, with a fresh security-key challenge for its script."""
    ceremony = start_ceremony(LOGIN)
    return render_template(
        "login.html",
        form=form,
        key_form=SecurityKeyLoginForm(formdata=None),
        request_options=authentication_options(relying_party(), ceremony),
        prf_salt=prf_salt_b64url(),
    )


@blueprint.post("/logout")
@permission_required(Permission.SESSION)
def logout() -> Response:
    audit.record(db(), g.keyring, audit.Action.LOGOUT, audit.officer_target(g.keyring.username))
    db().commit()
    end_session()
    flash(_("You are logged out. Your keys were removed from memory."), "info")
    return redirect(url_for("auth.login"))
