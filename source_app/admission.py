"""What a POST must pass before its body is read: session, size, space and rate limits.

Runs before Flask-WTF's CSRF check, which reads the whole body to find the token: a
500 MB upload is refused here, for the price of its headers, when it could never be
accepted anyway. Views declare what they do with :func:`checks_code` and
``uploads.accepts_uploads``; the limits themselves are in source_app/limits.py.
"""

from collections.abc import Callable
from typing import Any

from flask import current_app, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import TooManyRequests

from source_app.host import current_host
from source_app.uploads import FORM_OVERHEAD_BYTES, LowDiskSpace

# Text fields and framing of a form with files; Werkzeug's default is 1000.
MAX_FORM_PARTS = 64


def checks_code(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that derives a reporter's keys from a typed receipt code."""
    view.checks_code = True  # type: ignore[attr-defined]
    return view


def admit_request() -> None:
    """``before_request`` of the public site; raises the HTTP error that refuses."""
    if request.method != "POST":
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return
    host = current_host()
    config = host.config
    # Only multipart bodies are parsed as they stream; any other body is read whole.
    uploads = getattr(view, "accepts_uploads", False) and request.mimetype == "multipart/form-data"
    if uploads:
        request.max_content_length = config.max_upload_bytes + FORM_OVERHEAD_BYTES
        request.max_form_parts = config.max_attachments + MAX_FORM_PARTS
    # Every form carries a CSRF token tied to the session: without a session it would
    # be refused after the whole body was read. Refuse it now.
    if "csrf_token" not in session:
        raise CSRFError("no session")
    if uploads:
        length = request.content_length or 0
        if length > config.max_request_bytes and (
            host.store.free_bytes() - length < config.min_free_bytes
        ):
            raise LowDiskSpace()
    if getattr(view, "accepts_uploads", False) and not host.limits.allow_submission():
        raise TooManyRequests()
    if getattr(view, "checks_code", False) and not host.limits.allow_code_attempt(session):
        raise TooManyRequests()
