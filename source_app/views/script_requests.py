"""What the requests of the pages' own scripts share (the browser path).

Their bodies are ciphertext or JSON, never a form: the CSRF token comes in the
``X-CSRFToken`` header (Flask-WTF's global check, which would read the body as a form,
is skipped for these views). Refusals are JSON ``{"error": code, "message": ...}`` in
the page's language (``?lang=``), so the script can tell the reporter what happened.
"""

from flask import Response, jsonify, request, session
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from source_app.services.resumable_uploads import UploadRefused, owner_hash

OFFSET_HEADER = "Upload-Offset"


def check_csrf_header() -> None:
    """The form's CSRF token, from the header; the CSRF error page (400) without it."""
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


def session_owner() -> bytes:
    """The browser session's owner hash; a session without a form token owns nothing."""
    secret = session.get("csrf_token")
    if not isinstance(secret, str):
        raise CSRFError("no session")
    return owner_hash(secret)


_STATUS = {
    "too_large": 413,
    "too_many": 400,
    "no_space": 507,
    "busy": 503,
    "unknown": 404,
    "offset_mismatch": 409,
    "bad_part": 400,
    "bad_request": 400,
    "finished": 409,
    "incomplete": 400,
}


def refusal_message(code: str) -> str:
    """What the page tells the reporter, in their language, for a refusal ``code``."""
    messages = {
        "too_large": _("The files are larger than this site accepts. Nothing was sent."),
        "too_many": _("There are more files than one report can carry. Nothing was sent."),
        "no_space": _("This site cannot take files right now. Please try again later."),
        "busy": _("This site is busy. Please try again in a few minutes."),
        "unknown": _(
            "This file's upload is no longer known here: it may have expired. "
            "Please send your report again."
        ),
        "offset_mismatch": _("The site holds another part of this file than the page sent."),
        "bad_part": _("A part of the file was not what the site expects. Please try again."),
        "bad_request": _("The request was not understood. Please try again."),
        "finished": _("This file was already sent with a report."),
        "incomplete": _("A file was not sent completely. Please try again."),
    }
    return str(messages.get(code, messages["bad_request"]))


def refused(exc: UploadRefused) -> tuple[Response, int]:
    """The JSON answer to a refusal, with the offset the host holds when it matters."""
    body: dict[str, object] = {"error": exc.code, "message": refusal_message(exc.code)}
    if exc.offset is not None:
        body["offset"] = exc.offset
    response = jsonify(body)
    if exc.offset is not None:
        response.headers[OFFSET_HEADER] = str(exc.offset)
    return response, _STATUS.get(exc.code, 400)
