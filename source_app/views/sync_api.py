"""The sync API (docs/sync-api.md): signed requests from the officer host only."""

import hashlib
import time
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from nacl.signing import VerifyKey

from crypto.audit_anchor import MAX_ANCHOR_BYTES, verify_checkpoint
from crypto.errors import (
    CryptoError,
    ReplayedRequest,
    SignatureError,
    StaleRequest,
    SyncListingError,
    TransparencyPageError,
    UnsignedRequest,
)
from crypto.sync_api import (
    API_PREFIX,
    DEFAULT_LIST_LIMIT,
    MAX_ACK_IDS,
    MAX_LIST,
    MAX_REPLY_BYTES,
    MAX_TRANSPARENCY_PAGE_BYTES,
    build_listing,
    is_blob_name,
    is_id,
    is_transparency_name,
    parse_id_list,
)
from crypto.sync_auth import (
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MAX_SKEW_SECONDS,
    verify_request,
)
from source_app.host import current_host, db_session
from source_app.services import sync as sync_service
from source_app.services import transparency as transparency_service

# Paths, grammar, listing and ceilings are the contract's (crypto/sync_api.py), shared
# with the officer host.
blueprint = Blueprint("sync_api", __name__, url_prefix=API_PREFIX)

SIGNATURE_HEADERS = (HEADER_TIMESTAMP, HEADER_NONCE, HEADER_KEY_ID, HEADER_SIGNATURE)


def _error(status: int, code: str) -> tuple[Response, int]:
    return jsonify({"error": code}), status


@blueprint.before_request
def authenticate() -> tuple[Response, int] | None:
    """Refuse anything not signed by a sync key of the recipient set, or seen before."""
    host = current_host()
    # Refuse the unsigned before reading (and hashing) up to 2 MiB of body.
    if not all(request.headers.get(name) for name in SIGNATURE_HEADERS):
        return _error(401, "unsigned")
    # The path as sent (gunicorn's RAW_URI, Werkzeug's REQUEST_URI): the signature covers
    # the decoded path, so an escaped form of it would pass; docs/sync-api.md has none.
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or ""
    if "%" in raw.partition("?")[0]:
        return _error(400, "encoded_path")
    body = request.get_data(cache=True)
    path = request.path + (
        f"?{request.query_string.decode('latin-1')}" if request.query_string else ""
    )
    verify_keys = [VerifyKey(k) for k in host.recipient_set.sync_verify_keys]
    try:
        verified = verify_request(
            verify_keys, request.method, path, hashlib.sha256(body).digest(), request.headers
        )
        _remember_nonce(verified.nonce, verified.timestamp)
    except StaleRequest:
        return _error(401, "stale")
    except ReplayedRequest:
        return _error(401, "replayed")
    except UnsignedRequest:
        return _error(401, "unsigned")
    except SignatureError:
        return _error(401, "bad_signature")
    g.sync_key_id = verified.key_id
    return None


def _remember_nonce(nonce: str, timestamp: int) -> None:
    """:class:`ReplayedRequest` if any worker or replica saw ``nonce`` within the window.

    With Redis the nonce is claimed there (every replica sees it, whatever database it
    uses); otherwise in the database, which every worker of the host shares.
    """
    window = 2 * MAX_SKEW_SECONDS
    state = current_host().limits.state
    if not state.shared:
        sync_service.remember_nonce(db_session(), nonce, timestamp, window=window)
        return
    ttl = window + max(0, timestamp - int(time.time()))
    if not state.claim(f"sync-nonce:{nonce}", ttl):
        raise ReplayedRequest("nonce already used")


@blueprint.get("/submissions")
def list_submissions() -> Response | tuple[Response, int]:
    try:
        limit = int(request.args.get("limit", str(DEFAULT_LIST_LIMIT)))
    except ValueError:
        return _error(400, "bad_limit")
    if not 1 <= limit <= MAX_LIST:
        return _error(400, "bad_limit")
    after = request.args.get("after")
    if after is not None and not is_id(after):
        return _error(400, "bad_after")
    listed = sync_service.listed_submissions(db_session(), limit, after)
    return jsonify(build_listing(listed))


@blueprint.get("/submissions/<submission_id>/blobs/<name>")
def fetch_blob(submission_id: str, name: str) -> Response | tuple[Response, int]:
    if not is_id(submission_id) or not is_blob_name(name):
        return _error(404, "not_found")
    try:
        blob = sync_service.find_blob(db_session(), submission_id, name)
        handle = current_host().store.open(blob.blob_key)
    except (sync_service.NotFound, FileNotFoundError):
        return _error(404, "not_found")

    def stream() -> Any:
        with handle:
            while piece := handle.read(256 * 1024):
                yield piece

    return Response(
        stream(),
        mimetype="application/octet-stream",
        headers={"Content-Length": str(blob.size)},
    )


@blueprint.post("/ack")
def acknowledge() -> Response | tuple[Response, int]:
    try:
        payload = request.get_json(force=True, silent=True)
    except RecursionError:
        payload = None
    try:
        ids = parse_id_list(payload.get("ids") if isinstance(payload, dict) else None, MAX_ACK_IDS)
    except SyncListingError:
        return _error(400, "bad_ids")
    result = sync_service.acknowledge(db_session(), current_host().store, ids)
    return jsonify({"deleted": result.deleted, "unknown": result.unknown})


@blueprint.post("/reporters/<reporter_id>/replies/<reply_id>")
def post_reply(reporter_id: str, reply_id: str) -> tuple[Response, int]:
    if not is_id(reporter_id):
        return _error(404, "not_found")
    if not is_id(reply_id):
        return _error(400, "bad_reply_id")
    envelope = request.get_data(cache=True)
    if len(envelope) > MAX_REPLY_BYTES:
        return _error(413, "too_large")
    try:
        created = sync_service.store_reply(
            db_session(), current_host().store, reporter_id, reply_id, envelope
        )
    except sync_service.NotFound:
        return _error(404, "not_found")
    except sync_service.InvalidReply:
        return _error(400, "not_an_envelope")
    return jsonify({"id": reply_id}), 201 if created else 200


@blueprint.get("/recipient-set")
def recipient_set() -> Response:
    return Response(current_host().signed_recipient_set, mimetype="application/json")


@blueprint.post("/audit-anchors")
def post_audit_anchor() -> tuple[Response, int]:
    """Keep a checkpoint of the officer's audit chain, write-once (crypto/audit_anchor.py)."""
    document = request.get_data(cache=True)
    if len(document) > MAX_ANCHOR_BYTES:
        return _error(413, "too_large")
    verify_keys = [VerifyKey(key) for key in current_host().recipient_set.sync_verify_keys]
    try:
        anchor = verify_checkpoint(document, verify_keys)
    except CryptoError:
        return _error(400, "bad_anchor")
    try:
        mark = anchor.checkpoint
        created = sync_service.store_audit_anchor(db_session(), mark.count, mark.head, document)
    except sync_service.AnchorConflict:
        return _error(409, "anchor_conflict")
    return jsonify({"count": anchor.checkpoint.count}), 201 if created else 200


@blueprint.get("/audit-anchors/latest")
def latest_audit_anchor() -> Response | tuple[Response, int]:
    document = sync_service.latest_audit_anchor(db_session())
    if document is None:
        return _error(404, "not_found")
    return Response(document, mimetype="application/json")


@blueprint.put("/transparency/<name>")
def put_transparency_page(name: str) -> tuple[Response, int]:
    """Publish one page of the unit's transparency report (crypto/transparency_page.py):
    written whole into DATA_DIR/transparency, where the public pages serve it."""
    if not is_transparency_name(name):
        return _error(400, "bad_name")
    content = request.get_data(cache=True)
    if len(content) > MAX_TRANSPARENCY_PAGE_BYTES:
        return _error(413, "too_large")
    try:
        created = transparency_service.store_page(current_host().config.data_dir, name, content)
    except TransparencyPageError as refused:
        return _error(413 if refused.reason == "too_large" else 400, refused.reason)
    return jsonify({"name": name}), 201 if created else 200
