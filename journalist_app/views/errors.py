"""Error pages in the officer's language; nothing of the failure's internals is shown."""

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError


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


def other_refusal(error: HTTPException) -> HTTPException | tuple[str, int]:
    """Any other refusal (a 400 of the dashboard's filters, a 416 of a static file, a 422
    of a file the viewer cannot show…): this page, not werkzeug's English one."""
    if (error.code or 500) < 400:  # a redirect raised as an exception is the answer itself
        return error
    if (error.code or 500) >= 500:
        return server_error(error)
    return _render(error, _("What was sent could not be used. Go back and try again."))


def server_error(error: HTTPException) -> tuple[str, int]:
    """A failure of this host (Flask has logged it): a page without any of its details."""
    message = _(
        "Something went wrong on this host. Try again; if it happens again, tell an administrator."
    )
    return render_template("error.html", message=message), error.code or 500


def init_app(app: Flask) -> None:
    app.register_error_handler(404, not_found)
    app.register_error_handler(405, method_not_allowed)
    app.register_error_handler(CSRFError, form_expired)
    app.register_error_handler(413, too_large)
    # An exception no view expected reaches Flask's handle_exception, which logs it and
    # looks for a handler of 500 (in tests it propagates, as before).
    app.register_error_handler(InternalServerError, server_error)
    app.register_error_handler(HTTPException, other_refusal)
