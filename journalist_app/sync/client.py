"""Client side of the sync API (docs/sync-api.md): every request signed with the sync key.

Plain ``urllib``: no proxies from the environment and no redirects, so a signed
request goes only where the configured URL says. With ``socks_proxy`` (from
``IBLAGH_SYNC_SOCKS``) every connection goes through tor's SOCKS port, which resolves
the ``.onion`` name itself and holds the client key of the sync onion.
"""

import functools
import hashlib
import http.client
import json
import re
import socket
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException, HTTPResponse
from typing import Any, BinaryIO, TypeGuard

from nacl.signing import SigningKey
from python_socks import ProxyError, ProxyType
from python_socks.sync import Proxy

from crypto.encoding import b64decode
from crypto.errors import CryptoError
from crypto.sync_auth import sign_request
from journalist_app.config import OfficerConfig
from journalist_app.errors import (
    BlobMismatch,
    SyncError,
    SyncProtocolError,
    SyncRefused,
    SyncUnreachable,
    UnknownReporter,
)
from journalist_app.sync.blob_store import BLOB_NAME, SUBMISSION_ID

API = "/sync/v1"
KINDS = frozenset({"report", "followup"})
MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_ACK_IDS = 500
# body, identity and at most 10 attachments (source_app's max_attachments).
MAX_ATTACHMENTS = 10
MAX_BLOBS_PER_SUBMISSION = 2 + MAX_ATTACHMENTS
# Text from the public host is cut to this many characters before it reaches a message.
MAX_REMOTE_TEXT = 200
# Bidirectional formatting characters (Unicode category Cf), which reorder what a
# terminal shows: embeddings and overrides, isolates, and the directional marks.
_BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_READ_CHUNK = 64 * 1024
_REFUSALS = {
    "unsigned": "the request was not recognised as signed",
    "stale": "the request's time was refused: check both hosts' clocks",
    "bad_signature": (
        "the sync key is not accepted: install the current recipient-set.json on the public host"
    ),
    "replayed": "the request was seen as a replay: try again",
}


class SyncLimitExceeded(SyncProtocolError):
    """A listed submission exceeds what this host accepts from the public host: refused,
    not stored and not acknowledged, so it stays on the public host."""


class BlobTooLarge(SyncLimitExceeded):
    """A listed blob is larger than ``IBLAGH_SYNC_MAX_BLOB_BYTES``."""


class TooManyBlobs(SyncLimitExceeded):
    """A submission lists more blobs than a report can have (body, identity, 10 attachments)."""


class EnvelopeRejected(SyncProtocolError):
    """A stored blob is not an envelope sealed only to this unit's keys: not acknowledged."""


class NotEnoughDiskSpace(SyncError):
    """The next blob would leave less than ``IBLAGH_MIN_FREE_BYTES`` free: the sync stops."""


def terminal_safe(text: object, limit: int = MAX_REMOTE_TEXT) -> str:
    """Text from the public host, fit for an exception message or a terminal.

    Control characters (C0, DEL, C1: ESC and every terminal escape with it) and the
    bidirectional overrides and isolates are dropped, and the rest is cut to ``limit``
    characters: a compromised public host can neither drive the officer's terminal nor
    disguise what it shows.
    """
    cleaned = "".join(
        char
        for char in str(text)
        if unicodedata.category(char) != "Cc" and char not in _BIDI_CONTROLS
    )
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


@dataclass(frozen=True)
class ListedBlob:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ListedSubmission:
    """One entry of ``GET /submissions``, validated."""

    id: str
    kind: str
    reporter_id: str
    reporter_public_key: bytes
    received_hour: datetime
    blobs: tuple[ListedBlob, ...]


@dataclass(frozen=True)
class AckResult:
    deleted: tuple[str, ...]
    unknown: tuple[str, ...]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


# Tor's extended SOCKS5 replies (SocksPort flag ExtendedErrors), for onion targets.
_TOR_SOCKS_ERRORS = {
    0xF0: "tor found no descriptor for the onion service: is it running, is the address right?",
    0xF1: "the onion service's descriptor is invalid",
    0xF2: "the introduction to the onion service failed",
    0xF3: "the rendezvous with the onion service failed",
    0xF4: (
        "the sync onion requires client authorisation: put this host's .auth_private "
        "file in tor's ClientOnionAuthDir"
    ),
    0xF5: "tor's client key for the sync onion is not accepted: check the .auth_private file",
    0xF6: "the onion address is invalid",
    0xF7: "the introduction to the onion service timed out",
}


class _SocksConnection(http.client.HTTPConnection):
    """HTTP over a SOCKS5 proxy that resolves the host name itself (tor, for .onion)."""

    def __init__(self, host: str, *, proxy: tuple[str, int], **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._proxy = proxy

    def connect(self) -> None:
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        proxy = Proxy(ProxyType.SOCKS5, self._proxy[0], self._proxy[1], rdns=True)
        try:
            self.sock = proxy.connect(self.host, self.port, timeout=timeout)
        except ProxyError as exc:
            raise ConnectionError(_socks_reason(exc)) from exc
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _socks_reason(exc: ProxyError) -> str:
    # python-socks knows only RFC 1928's codes: tor's own arrive as "Invalid reply code: 0XF4".
    code = exc.error_code
    if code is None and (match := re.search(r"0X([0-9A-F]{2})\b", str(exc), re.IGNORECASE)):
        code = int(match.group(1), 16)
    return _TOR_SOCKS_ERRORS.get(code or 0, f"tor's SOCKS port refused the connection: {exc}")


class SocksHandler(urllib.request.HTTPHandler):
    """urllib handler for http:// through a SOCKS5 proxy with remote name resolution."""

    def __init__(self, proxy: tuple[str, int]) -> None:
        super().__init__()
        self._proxy = proxy

    def http_open(self, req: urllib.request.Request) -> HTTPResponse:
        return self.do_open(functools.partial(_SocksConnection, proxy=self._proxy), req)


def parse_socks_address(text: str) -> tuple[str, int]:
    """``127.0.0.1:9050`` → ("127.0.0.1", 9050); ValueError otherwise."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("a SOCKS address is HOST:PORT, e.g. 127.0.0.1:9050")
    return host.removeprefix("[").removesuffix("]"), int(port)


class SyncClient:
    """Signed calls to one public host's sync listener."""

    def __init__(
        self,
        base_url: str,
        sync_key: SigningKey,
        timeout: float = 30.0,
        socks_proxy: str = "",
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the sync URL must be http(s)://host[:port]")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._sync_key = sync_key
        self._timeout = timeout
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({}),
            _RefuseRedirects(),
        ]
        if parts.hostname and parts.hostname.endswith(".onion") and not socks_proxy:
            # Without tor the name would go to the system resolver: a leak, and no answer.
            raise ValueError("an .onion sync URL is reached through tor's SOCKS port only")
        if socks_proxy:
            if parts.scheme != "http":
                raise ValueError("through tor's SOCKS port the sync URL is http://<address>.onion")
            handlers.append(SocksHandler(parse_socks_address(socks_proxy)))
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_config(cls, config: OfficerConfig, sync_key: SigningKey) -> "SyncClient":
        """The client the configuration asks for: URL, timeout and tor's SOCKS port if set."""
        return cls(config.sync_url, sync_key, config.sync_timeout_seconds, config.sync_socks)

    @property
    def base_url(self) -> str:
        return self._origin + self._prefix

    def list_submissions(self, limit: int = 100) -> list[ListedSubmission]:
        """Submissions not yet acknowledged, oldest first."""
        if not 1 <= limit <= 500:
            raise ValueError("limit is 1 to 500")
        document = self._json("GET", f"{API}/submissions?limit={limit}")
        items = document.get("submissions") if isinstance(document, dict) else None
        if not isinstance(items, list):
            raise SyncProtocolError("the listing has no 'submissions' list")
        if len(items) > limit:
            raise SyncProtocolError(f"the listing holds more than the {limit} asked for")
        return [parse_submission(item) for item in items]

    def fetch_blob(self, submission_id: str, blob: ListedBlob, dst: BinaryIO) -> None:
        """Stream a blob into ``dst``, checking size and SHA-256 against the listing."""
        path = f"{API}/submissions/{_checked_id(submission_id)}/blobs/{_checked_name(blob.name)}"
        digest = hashlib.sha256()
        received = 0
        with self._request("GET", path) as response:
            while piece := self._read(response, _READ_CHUNK):
                received += len(piece)
                if received > blob.size:
                    raise BlobMismatch(f"blob {submission_id}/{blob.name} is larger than listed")
                digest.update(piece)
                dst.write(piece)
        if received != blob.size or digest.hexdigest() != blob.sha256:
            raise BlobMismatch(f"blob {submission_id}/{blob.name} does not match its listing")

    def ack(self, ids: Sequence[str]) -> AckResult:
        """Tell the public host it may delete these submissions (stored durably here)."""
        if len(ids) > MAX_ACK_IDS:
            raise ValueError(f"at most {MAX_ACK_IDS} ids per acknowledgement")
        body = json.dumps({"ids": [_checked_id(i) for i in ids]}).encode("utf-8")
        document = self._json("POST", f"{API}/ack", body, "application/json")
        deleted = document.get("deleted") if isinstance(document, dict) else None
        unknown = document.get("unknown") if isinstance(document, dict) else None
        if not _is_id_list(deleted) or not _is_id_list(unknown):
            raise SyncProtocolError("the acknowledgement answer lacks 'deleted' or 'unknown'")
        return AckResult(deleted=tuple(deleted), unknown=tuple(unknown))

    def push_reply(self, reporter_id: str, reply_id: str, envelope: bytes) -> bool:
        """Store a reply envelope for a reporter; False when it was already stored."""
        # The reply id is in the path, so the signature covers it.
        path = f"{API}/reporters/{_checked_id(reporter_id)}/replies/{_checked_id(reply_id)}"
        try:
            with self._request("POST", path, envelope, "application/octet-stream") as response:
                status = response.status
                self._read(response, MAX_JSON_BYTES)
        except _NotFound as exc:
            raise UnknownReporter(f"the public host knows no reporter {reporter_id}") from exc
        if status not in (200, 201):
            raise SyncProtocolError(f"unexpected status {status} for a reply")
        return status == 201

    def fetch_recipient_set(self) -> bytes:
        """The signed recipient set the public host runs on, exactly as installed."""
        with self._request("GET", f"{API}/recipient-set") as response:
            return self._read_capped(response)

    # --- transport --------------------------------------------------------------------

    def _json(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> Any:
        with self._request(method, path, body, content_type) as response:
            raw = self._read_capped(response)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SyncProtocolError(f"{method} {path}: the answer is not JSON") from exc

    def _request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> HTTPResponse:
        target = self._prefix + path
        headers = sign_request(self._sync_key, method, target, body)
        headers.update(extra_headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        # The scheme is http(s), checked in __init__.
        request = urllib.request.Request(  # noqa: S310
            self._origin + target, data=body if method != "GET" else None, method=method
        )
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            response: HTTPResponse = self._opener.open(request, timeout=self._timeout)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, method, path) from exc
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            # A malformed status line, for one, quotes what the public host sent.
            reason = terminal_safe(getattr(exc, "reason", exc))
            raise SyncUnreachable(
                f"cannot reach the public host at {self.base_url}: {reason}"
            ) from exc
        return response

    def _read(self, response: HTTPResponse, size: int) -> bytes:
        try:
            return response.read(size)
        except (OSError, HTTPException) as exc:
            reason = terminal_safe(exc)
            raise SyncUnreachable(f"the connection to {self.base_url} broke: {reason}") from exc

    def _read_capped(self, response: HTTPResponse) -> bytes:
        raw = self._read(response, MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise SyncProtocolError("the public host's answer is too large")
        return raw


class _NotFound(SyncProtocolError):
    pass


def _http_error(exc: urllib.error.HTTPError, method: str, path: str) -> Exception:
    try:
        code = json.loads(exc.read(4096)).get("error", "")
    except (ValueError, UnicodeDecodeError, AttributeError, OSError, HTTPException):
        code = ""
    finally:
        exc.close()
    # The code is the public host's text: it reaches messages only made terminal-safe.
    code = terminal_safe(code) if isinstance(code, str) else ""
    if exc.code == 401:
        explanation = _REFUSALS.get(code, "the request was refused")
        return SyncRefused(f"the public host refused the sync request: {explanation}", code)
    if exc.code == 404:
        return _NotFound(f"{method} {path}: not found on the public host")
    return SyncProtocolError(f"{method} {path}: the public host answered {exc.code} {code}".strip())


def check_submission_limits(submission: ListedSubmission, max_blob_bytes: int) -> None:
    """Refuse, before anything is fetched, a submission larger than this host accepts."""
    if len(submission.blobs) > MAX_BLOBS_PER_SUBMISSION:
        raise TooManyBlobs(
            f"submission {submission.id} lists {len(submission.blobs)} blobs, more than the "
            f"{MAX_BLOBS_PER_SUBMISSION} a report can have: refused, left on the public host"
        )
    attachments = sum(blob.name.startswith("attachment-") for blob in submission.blobs)
    if attachments > MAX_ATTACHMENTS:
        raise TooManyBlobs(
            f"submission {submission.id} lists {attachments} attachments, more than "
            f"{MAX_ATTACHMENTS}: refused, left on the public host"
        )
    for blob in submission.blobs:
        if blob.size > max_blob_bytes:
            raise BlobTooLarge(
                f"blob {submission.id}/{blob.name} is listed at {blob.size} bytes, more than "
                f"IBLAGH_SYNC_MAX_BLOB_BYTES ({max_blob_bytes}): refused, left on the "
                "public host"
            )


def parse_submission(item: Any) -> ListedSubmission:
    """Validate one listing item of docs/sync-api.md (also carried in inbound batches)."""
    try:
        submission_id = _checked_id(item["id"])
        kind = item["kind"]
        if kind not in KINDS:
            raise SyncProtocolError(f"unknown submission kind in {submission_id}")
        blobs = tuple(_parse_blob(blob) for blob in item["blobs"])
        if len({blob.name for blob in blobs}) != len(blobs):
            raise SyncProtocolError(f"duplicate blob names in {submission_id}")
        return ListedSubmission(
            id=submission_id,
            kind=kind,
            reporter_id=_checked_id(item["reporter_id"]),
            reporter_public_key=b64decode(item["reporter_public_key"], length=32),
            received_hour=_parse_hour(item["received_hour"]),
            blobs=blobs,
        )
    except (KeyError, TypeError, ValueError, CryptoError) as exc:
        raise SyncProtocolError("a listed submission is malformed") from exc


def _parse_blob(item: Any) -> ListedBlob:
    name, size, sha256 = item["name"], item["size"], item["sha256"]
    if not isinstance(name, str) or not BLOB_NAME.fullmatch(name):
        raise SyncProtocolError("a listed blob has an unknown name")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise SyncProtocolError("a listed blob has an invalid size")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise SyncProtocolError("a listed blob has an invalid sha256")
    return ListedBlob(name=name, size=size, sha256=sha256)


def _parse_hour(text: Any) -> datetime:
    if not isinstance(text, str):
        raise SyncProtocolError("received_hour is not a string")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise SyncProtocolError("received_hour has no time zone")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _checked_id(value: Any) -> str:
    if not isinstance(value, str) or not SUBMISSION_ID.fullmatch(value):
        raise SyncProtocolError("not a 32-hex-digit id")
    return value


def _checked_name(value: str) -> str:
    if not BLOB_NAME.fullmatch(value):
        raise SyncProtocolError("not a blob name")
    return value


def _is_id_list(value: Any) -> TypeGuard[list[str]]:
    return isinstance(value, list) and all(
        isinstance(v, str) and SUBMISSION_ID.fullmatch(v) for v in value
    )
