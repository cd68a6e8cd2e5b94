"""What every request passes through: login required, security headers on every answer."""

from flask import Flask, Response, g, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from journalist_app.views.context import close_db, current_keyring

PUBLIC_ENDPOINTS = frozenset({"auth.login", "static"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Decrypted reports must not linger in a browser cache.
    "Cache-Control": "no-store",
}


def require_login() -> BaseResponse | None:
    """Everything but the login page and its stylesheet needs an unlocked keyring."""
    keyring = current_keyring()
    if keyring is not None:
        g.keyring = keyring
        return None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return redirect(url_for("auth.login"))


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    response.headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    app.before_request(require_login)
    app.after_request(add_security_headers)
    app.teardown_appcontext(close_db)
