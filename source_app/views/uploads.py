"""Resumable uploads of the browser path (docs/sync-api.md, "Resumable uploads").

``POST /report/uploads`` declares an attachment envelope's size and returns an upload
id; ``PATCH /report/uploads/<id>`` appends one part at the ``Upload-Offset`` the host
holds; ``HEAD`` (or ``GET``) answers that offset after a cut; ``DELETE`` gives the upload
up. The report's ``POST /report/sealed`` then names the uploads
(source_app/views/sealed.py). Every request carries the form's CSRF token in
``X-CSRFToken``, and an upload answers only to the browser session that opened it.
Refusals are JSON ``{"error": code, "message": <in the page's language>}`` with a 4xx
(503/507 when the host is full), so the page can say what happened.
"""

import re
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request

from source_app.host import current_host, db_session
from source_app.services.resumable_uploads import (
    UploadLimits,
    UploadRefused,
    abandon_upload,
    append_part,
    open_upload,
    upload_offset,
)
from source_app.storage import RESUMABLE_PART_BYTES
from source_app.uploads import READ_BYTES
from source_app.views.script_requests import (
    OFFSET_HEADER,
    check_csrf_header,
    refusal_message,
    refused,
    session_owner,
)

blueprint = Blueprint("uploads", __name__)
LENGTH_HEADER = "Upload-Length"
_OFFSET = re.compile(r"[0-9]{1,20}")
MAX_DECLARATION_BYTES = 1024


def upload_limits() -> UploadLimits:
    host = current_host()
    return UploadLimits(
        max_upload_bytes=host.config.max_upload_bytes,
        max_attachments=host.config.max_attachments,
        max_open_uploads=host.config.max_open_uploads,
        expiry_hours=host.config.upload_expiry_hours,
        recipient_count=len(host.recipient_set.public_keys()),
        min_free_bytes=host.config.min_free_bytes,
    )


@blueprint.post("/report/uploads")
def create_upload() -> tuple[Response, int]:
    check_csrf_header()
    host = current_host()
    request.max_content_length = MAX_DECLARATION_BYTES
    document = request.get_json(silent=True)
    if not isinstance(document, dict):
        document = {}
    size, upload_id = document.get("size"), document.get("upload")
    if not isinstance(size, int) or isinstance(size, bool):
        return refused(UploadRefused("bad_request"))
    if upload_id is not None and not isinstance(upload_id, str):
        return refused(UploadRefused("bad_request"))
    limits = upload_limits()
    try:
        if not 1 <= size <= limits.envelope_bytes(limits.max_upload_bytes):
            raise UploadRefused("too_large")
        opened = open_upload(
            db_session(), host.store, limits, session_owner(), size, upload_id=upload_id
        )
    except UploadRefused as exc:
        return refused(exc)
    response = jsonify(
        upload=opened.upload_id,
        offset=opened.offset,
        part_bytes=RESUMABLE_PART_BYTES,
        expires_hours=host.config.upload_expiry_hours,
    )
    # The same declaration again (its answer was lost) finds the upload it made.
    return response, 201 if opened.created else 200


@blueprint.route("/report/uploads/<upload_id>", methods=["GET", "HEAD"])
def upload_state(upload_id: str) -> tuple[Response, int]:
    check_csrf_header()
    try:
        received, total = upload_offset(db_session(), session_owner(), upload_id)
    except UploadRefused as exc:
        return refused(exc)
    response = jsonify(offset=received, length=total)
    response.headers[OFFSET_HEADER] = str(received)
    response.headers[LENGTH_HEADER] = str(total)
    return response, 200


@blueprint.patch("/report/uploads/<upload_id>")
def append_upload_part(upload_id: str) -> tuple[Response, int]:
    check_csrf_header()
    if request.mimetype != "application/octet-stream":
        return jsonify(error="bad_request", message=refusal_message("bad_request")), 415
    offset_text = request.headers.get(OFFSET_HEADER, "")
    # ASCII digits, as many as an offset can have: str.isdigit also takes "²" (which int
    # refuses) and int refuses more than 4300 digits; either was a 500.
    if not _OFFSET.fullmatch(offset_text) or request.content_length is None:
        return refused(UploadRefused("bad_request"))
    request.max_content_length = RESUMABLE_PART_BYTES
    host = current_host()
    try:
        owner = session_owner()
        # Checked before the body is read: a part sent at the wrong offset costs nothing.
        received, _total = upload_offset(db_session(), owner, upload_id)
        if int(offset_text) != received:
            raise UploadRefused("offset_mismatch", offset=received)
        length = request.content_length
        if length > RESUMABLE_PART_BYTES:
            raise UploadRefused("bad_part", offset=received)
        # Streamed to the store in pieces: a part is never whole in the worker's memory
        # (but for S3, which takes a part whole). A cut mid-part raises ClientDisconnected
        # (400) while reading, before the offset moves: nothing of it counts.
        new_offset = append_part(
            db_session(), host.store, owner, upload_id, received, length, _body_pieces(length)
        )
    except UploadRefused as exc:
        return refused(exc)
    response = jsonify(offset=new_offset)
    response.headers[OFFSET_HEADER] = str(new_offset)
    return response, 200


def _body_pieces(length: int) -> Iterator[bytes]:
    stream = request.stream
    left = length
    while left:
        piece = stream.read(min(READ_BYTES, left))
        if not piece:
            return
        left -= len(piece)
        yield piece


@blueprint.delete("/report/uploads/<upload_id>")
def give_up_upload(upload_id: str) -> tuple[Response, int]:
    """The reporter removed the file or left: the upload goes now, not at its expiry."""
    check_csrf_header()
    try:
        abandon_upload(db_session(), current_host().store, session_owner(), upload_id)
    except UploadRefused as exc:
        return refused(exc)
    return jsonify(deleted=True), 200
