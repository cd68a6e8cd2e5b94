"""What every request passes through: a current session, a permission for the view,
security headers on every answer."""

from flask import Flask, Response, abort, g, redirect, request, url_for
from werkzeug.http import parse_range_header
from werkzeug.wrappers import Response as BaseResponse

from journalist_app.accounts.login import session_state
from journalist_app.views.access import required_permission
from journalist_app.views.context import close_db, current_keyring, db, end_session

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})
# All an officer may do until they replace an admin's one-time passphrase with their own.
FIRST_LOGIN_ENDPOINTS = frozenset({"account.passphrase", "auth.logout"})
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Only for a page that loads one of the app's own script files (see own_script): never
# inline code, never another origin.
CSP_WITH_OWN_SCRIPTS = CSP.replace(
    "default-src 'none'; ", "default-src 'none'; script-src 'self'; "
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Decrypted reports must not linger in a browser cache.
    "Cache-Control": "no-store",
}


def require_login() -> BaseResponse | None:
    """Everything but the login page and its stylesheet needs an unlocked keyring, of an
    account unchanged since login, and a view that declares its permission."""
    keyring = current_keyring()
    state = session_state(db(), keyring) if keyring is not None else "ended"
    if keyring is not None and state == "ended":
        # Reset, removed or role changed since login: forget the keys now.
        end_session()
    if state == "ended":
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        return redirect(url_for("auth.login"))
    g.keyring = keyring
    endpoint = request.endpoint
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return None  # 404 / 405, the login page (which redirects), the stylesheet
    if state == "must_change_passphrase" and endpoint not in FIRST_LOGIN_ENDPOINTS:
        return redirect(url_for("account.passphrase"))
    if required_permission(endpoint) is None:
        # A view without a rule is refused, never open by omission.
        abort(403)
    return None


def own_script(filename: str) -> str:
    """The address of a script file in static/, for a template's ``<script src defer>``.

    The page that calls it, and only that page, is served with ``script-src 'self'``;
    every other answer keeps a policy under which no script runs.
    """
    g.own_scripts = True
    return url_for("static", filename=filename)


def ignore_unusable_range() -> None:
    """RFC 9110 §14.2: a Range the server cannot use is ignored (the whole file, 200), not
    refused. werkzeug answered 416 to an unknown unit (``chars=0-1``, which must be
    ignored), to a malformed one (``bytes=abc``) and to several ranges, which it does not
    serve; one byte range past the end stays a 416, as it should."""
    value = request.environ.get("HTTP_RANGE")
    if value is None:
        return
    parsed = parse_range_header(value)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    if g.get("own_scripts") and response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP_WITH_OWN_SCRIPTS
    response.headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    app.before_request(ignore_unusable_range)
    app.before_request(require_login)
    app.after_request(add_security_headers)
    app.add_template_global(own_script)
    app.teardown_appcontext(close_db)
