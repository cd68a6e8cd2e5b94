"""Error pages in the officer's language; nothing of the failure's internals is shown."""

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


def _render(error: HTTPException, message: str) -> tuple[str, int]:
    return render_template("error.html", message=message), error.code or 500


def not_found(error: HTTPException) -> tuple[str, int]:
    return _render(error, _("This page does not exist."))


def method_not_allowed(error: HTTPException) -> tuple[str, int]:
    return _render(error, _("This action is not possible here."))


def form_expired(error: CSRFError) -> tuple[str, int]:
    return _render(error, _("The form expired or did not come from this site. Please try again."))


def too_large(error: HTTPException) -> tuple[str, int]:
    return _render(error, _("What was sent is too large."))


def init_app(app: Flask) -> None:
    app.register_error_handler(404, not_found)
    app.register_error_handler(405, method_not_allowed)
    app.register_error_handler(CSRFError, form_expired)
    app.register_error_handler(413, too_large)
