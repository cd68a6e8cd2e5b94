"""The browser path: keys the report form's script seals to, and sealed submissions.

``GET /sealing/recipients.json`` serves the signed recipient set as installed, and
``GET /sealing/unit-verify-key.txt`` the pinned unit verify key, so the page verifies
the set before sealing (source_app/static/js/report_form.js). ``POST /report/sealed``
takes a report the browser sealed (source_app/services/sealed_submission.py) and answers
201 only after the commit: the page shows the receipt code only then (invariant 4).

The CSRF token comes in the ``X-CSRFToken`` header: the body is ciphertext, never parsed
as a form, so Flask-WTF's global check (which would read it as one) is skipped here and
the same token is checked by hand.
"""

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy.exc import IntegrityError

from crypto.encoding import b64encode
from crypto.errors import EnvelopeError
from crypto.keys import key_id
from crypto.receipt import LOOKUP_VALUE_BYTES
from source_app.admission import spend_code_attempt, spend_submission
from source_app.host import current_host, db_session
from source_app.services.resumable_uploads import (
    FinishedUpload,
    UploadRefused,
    claim_uploads,
    finish_upload,
    release,
)
from source_app.services.sealed_submission import (
    SealedManifest,
    SealedSubmissionError,
    already_committed,
    read_manifest,
    read_sealed_status,
    submit_sealed_report,
)
from source_app.services.status import UnknownCode
from source_app.static_assets import (
    FORM_SCRIPT,
    STATUS_SCRIPT,
    SealingAssets,
    sealing_assets,
    static_manifest,
)
from source_app.uploads import FORM_OVERHEAD_BYTES
from source_app.views.script_requests import (
    check_csrf_header,
    refusal_message,
    refused,
    session_owner,
)

blueprint = Blueprint("sealed", __name__)
# The pages whose script seals or opens in the browser, and that script.
SEALING_ENDPOINTS = {"public.report": FORM_SCRIPT, "public.status": STATUS_SCRIPT}
_MANIFEST = "iblagh.static_manifest"


@blueprint.record_once
def _hash_static_files(state: BlueprintSetupState) -> None:
    state.app.extensions[_MANIFEST] = static_manifest()


def _assets(app: Flask) -> SealingAssets | None:
    script = SEALING_ENDPOINTS.get(request.endpoint or "")
    return None if script is None else sealing_assets(app.extensions[_MANIFEST], script)


@blueprint.before_app_request
def _allow_sealing_script() -> None:
    if request.endpoint in SEALING_ENDPOINTS:
        assets = _assets(current_app)
        if assets is not None:
            g.script_src = assets.script_src


@blueprint.app_context_processor
def _sealing_context() -> dict[str, object]:
    if request.endpoint not in SEALING_ENDPOINTS:
        return {"sealing_assets": None}
    from source_app.views.public import REASON_LABELS, STATUS_LABELS

    labels = {
        "status": {key: str(label) for key, label in STATUS_LABELS.items()},
        "reasons": {key: str(label) for key, label in REASON_LABELS.items()},
    }
    return {"sealing_assets": _assets(current_app), "sealing_labels": labels}


@blueprint.get("/static/manifest.json")
def manifest() -> Response:
    """SHA-384 of every static file this host serves (source_app/static_assets.py)."""
    return jsonify(current_app.extensions[_MANIFEST])


@blueprint.get("/sealing/recipients.json")
def recipient_set() -> Response:
    response = Response(current_host().signed_recipient_set, mimetype="application/json")
    return response


@blueprint.get("/sealing/unit-verify-key.txt")
def unit_verify_key() -> Response:
    return Response(current_host().config.unit_verify_key + "\n", mimetype="text/plain")


@blueprint.post("/status/sealed")
def status_sealed() -> tuple[Response, int]:
    """The replies for a lookup value, still sealed: the page derives the key and opens
    them (source_app/static/js/status_page.js); the code never reaches the host."""
    check_csrf_header()
    if request.mimetype != "application/octet-stream":
        return jsonify(error="expected application/octet-stream"), 415
    lookup_value = request.get_data()
    if len(lookup_value) != LOOKUP_VALUE_BYTES:
        return jsonify(error="a lookup value is 32 bytes"), 400
    spend_code_attempt()
    try:
        view = read_sealed_status(db_session(), current_host().store, lookup_value)
    except UnknownCode:
        return jsonify(error="unknown"), 404
    replies = [{"received_hour": hour, "envelope": b64encode(env)} for hour, env in view.replies]
    return jsonify(awaiting_pickup=view.awaiting_pickup, replies=replies), 200


@blueprint.post("/report/sealed")
def report_sealed() -> tuple[Response, int]:
    check_csrf_header()
    if request.mimetype != "application/octet-stream":
        return jsonify(error="expected application/octet-stream"), 415
    host = current_host()
    config = host.config
    if request.content_length is None:
        return jsonify(error="a Content-Length is required"), 411
    request.max_content_length = config.max_upload_bytes + FORM_OVERHEAD_BYTES
    try:
        manifest = read_manifest(request.stream, config.max_attachments)
        if request.content_length != manifest.body_length:
            raise SealedSubmissionError("the body's length does not match its manifest")
        if already_committed(db_session(), manifest.lookup_value):
            # Sent again after a cut lost the first answer: nothing new is kept, and
            # its uploads were spent by the first (docs/sync-api.md).
            return jsonify(error="already sent", committed=True), 409
        # The same budget as the form's path, spent once the request is well formed.
        spend_submission(with_files=manifest.attachment_count > 0)
        _submit_with_uploads(manifest)
    except SealedSubmissionError as exc:
        return jsonify(error=str(exc), message=refusal_message("bad_request")), 400
    except UploadRefused as exc:
        return refused(exc)
    except IntegrityError:
        # The lookup hash is taken: this very report was already committed (a repeated
        # POST, racing the first), and nothing new was kept.
        return jsonify(error="already sent", committed=True), 409
    return jsonify(committed=True), 201


def _submit_with_uploads(manifest: SealedManifest) -> None:
    """Claim the manifest's uploads, finish and check them, and commit the report; the
    uploads go (rows and bytes) whatever stops it, so one serves at most one report."""
    host = current_host()
    session = db_session()
    claimed = claim_uploads(session, session_owner(), manifest.upload_sizes())
    finished: dict[str, FinishedUpload] = {}
    report_ids = [key_id(bytes(k)) for k in host.recipient_set.public_keys()]
    try:
        for (name, _upload_id), upload in zip(manifest.uploads, claimed, strict=True):
            try:
                finished[name] = finish_upload(host.store, upload, report_ids)
            except EnvelopeError as exc:
                raise SealedSubmissionError(str(exc)) from exc
        submit_sealed_report(
            session,
            host.store,
            host.recipient_set,
            manifest,
            request.stream,
            uploaded=finished,
            claimed=claimed,
        )
    except BaseException:
        session.rollback()
        for done in finished.values():
            done.discard()
        release(session, host.store, claimed)
        raise
