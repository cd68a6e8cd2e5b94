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
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy.exc import IntegrityError
from wtforms import ValidationError

from source_app.host import current_host, db_session
from source_app.services.sealed_submission import (
    SealedSubmissionError,
    read_manifest,
    submit_sealed_report,
)
from source_app.static_assets import SealingAssets, sealing_assets, static_manifest
from source_app.uploads import FORM_OVERHEAD_BYTES

blueprint = Blueprint("sealed", __name__)
# The pages whose form the browser seals (their template includes _sealing.html).
SEALING_ENDPOINTS = frozenset({"public.report"})
_MANIFEST = "iblagh.static_manifest"


@blueprint.record_once
def _hash_static_files(state: BlueprintSetupState) -> None:
    state.app.extensions[_MANIFEST] = static_manifest()


def _assets(app: Flask) -> SealingAssets | None:
    return sealing_assets(app.extensions[_MANIFEST])


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
    return {"sealing_assets": _assets(current_app)}


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


@blueprint.post("/report/sealed")
def report_sealed() -> tuple[Response, int]:
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc
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
        submit_sealed_report(db_session(), host.store, host.recipient_set, manifest, request.stream)
    except SealedSubmissionError as exc:
        return jsonify(error=str(exc)), 400
    except IntegrityError:
        # The lookup hash is taken: this very report was already committed (a repeated
        # POST), and nothing new was kept.
        return jsonify(error="already sent"), 409
    return jsonify(committed=True), 201
