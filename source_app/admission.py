"""Admission of a POST: what it must pass before its body is read, and what it spends after.

:func:`admit_request` runs before Flask-WTF's CSRF check, which reads the whole body to
find the token: a 500 MB upload is refused there, for the price of its headers, when it
could never be accepted anyway. It spends no rate budget: a request that never gets past
the cheap checks must not close the door for anyone (docs/threat-model.md, "Abuse
without tracking").

Views spend budget only once a request passed those checks (session, CSRF token, a valid
form, a well-formed code): :func:`spend_submission`, :func:`spend_code_attempt`, and
:func:`argon2_slot` around the one expensive step. Every submission path (the server-
sealing form, the browser-sealing one) uses the same three; the counters are in
source_app/limits.py and source_app/shared_state.py.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import ServiceUnavailable, TooManyRequests

from source_app.host import current_host
from source_app.uploads import FORM_OVERHEAD_BYTES, SEAL_NO_FILE, LowDiskSpace

# Text fields and framing of a form with files; Werkzeug's default is 1000.
MAX_FORM_PARTS = 64
# How far past the upload limit a form's body is still read (its files then dropped).
UPLOAD_READ_FACTOR = 2


class HostBusy(ServiceUnavailable):
    """Every argon2id slot stayed taken while the request waited: 503, nothing kept."""


def spend_submission(with_files: bool) -> None:
    """Count a valid report or follow-up; :class:`TooManyRequests` over the rate."""
    if not current_host().limits.allow_submission(with_files):
        raise TooManyRequests()


def spend_code_attempt() -> None:
    """Count a check of a well-formed receipt code, for the session and overall."""
    if not current_host().limits.allow_code_attempt(session):
        raise TooManyRequests()


@contextmanager
def argon2_slot(for_report: bool) -> Iterator[None]:
    """Hold one argon2id slot for the block; :class:`HostBusy` if none came free in time."""
    with current_host().limits.argon2_slot(for_report) as held:
        if not held:
            raise HostBusy()
        yield


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
        # Up to twice the upload limit is read to its end, sealing nothing past the limit
        # (source_app/uploads.py), so that the form comes back with its answers (issue 10,
        # item 11); a larger body is refused from its Content-Length.
        request.max_content_length = (
            UPLOAD_READ_FACTOR * config.max_upload_bytes + FORM_OVERHEAD_BYTES
        )
        request.max_form_parts = config.max_attachments + MAX_FORM_PARTS
    # Every form carries a CSRF token tied to the session: without a session it would
    # be refused after the whole body was read. Refuse it now; but the report and
    # follow-up forms come back with their answers (issue 10, item 11: a browser
    # restarted, Tor Browser's "New Identity"), so their body is read, no file sealed.
    if "csrf_token" not in session:
        if not getattr(view, "accepts_uploads", False):
            raise CSRFError("no session")
        request.environ[SEAL_NO_FILE] = True
    if uploads:
        length = request.content_length or 0
        if length > config.max_request_bytes and (
            host.store.free_bytes() - length < config.min_free_bytes
        ):
            raise LowDiskSpace()
