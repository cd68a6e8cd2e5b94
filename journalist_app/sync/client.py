"""Client side of the sync API (docs/sync-api.md): every request signed with the sync key.

Plain ``urllib``: no proxies from the environment and no redirects, so a signed
request goes only where the configured URL says. With ``socks_proxy`` (from
``IBLAGH_SYNC_SOCKS``) every connection goes through tor's SOCKS port, which resolves
the ``.onion`` name itself and holds the client key of the sync onion.

Deadlines (docs/sync-api.md, "Deadlines"): the socket timeout bounds only the wait for
the next byte, so a host that sends one byte every 20 s would hold a sync forever. Every
request therefore has an overall deadline, from connecting to its last byte, and the
whole run one more (``SyncClient`` is made once per run): each read sets the socket's
timeout to what is left, and past the deadline the request ends with
:class:`SyncDeadlineExceeded`.
"""

import functools
import hashlib
import http.client
import io
import json
import re
import socket
import time
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from typing import Any, TypeVar

from nacl.signing import SigningKey
from python_socks import ProxyError, ProxyType
from python_socks.sync import Proxy

from crypto.errors import SyncListingError
from crypto.sync_api import (
    ACK_PATH,
    AUDIT_ANCHOR_LATEST_PATH,
    AUDIT_ANCHORS_PATH,
    DEFAULT_LIST_LIMIT,
    MAX_ACK_IDS,
    MAX_JSON_BYTES,
    RECIPIENT_SET_PATH,
    ListedBlob,
    ListedSubmission,
    Listing,
    ack_request,
    blob_path,
    parse_id_list,
    parse_listing,
    reply_path,
    submissions_path,
    transparency_path,
)
from crypto.sync_auth import sign_request
from journalist_app.config import (
    DEFAULT_SYNC_REQUEST_DEADLINE_SECONDS,
    DEFAULT_SYNC_RUN_DEADLINE_SECONDS,
    OfficerConfig,
)
from journalist_app.errors import (
    BlobMismatch,
    SyncDeadlineExceeded,
    SyncError,
    SyncProtocolError,
    SyncRefused,
    SyncUnreachable,
    UnknownReporter,
)
from journalist_app.sync.blob_store import BlobWriter

_Built = TypeVar("_Built")
# Text from the public host is cut to this many characters before it reaches a message.
MAX_REMOTE_TEXT = 200
# Bidirectional formatting characters (Unicode category Cf), which reorder what a
# terminal shows: embeddings and overrides, isolates, and the directional marks.
_BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
_READ_CHUNK = 64 * 1024
# A blob's request may take this much longer per byte listed: at least 16 KiB/s (slow tor).
BLOB_SECONDS_PER_BYTE = 1 / (16 * 1024)
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


class SubmissionRefused(SyncProtocolError):
    """A listed submission breaks the sync contract (crypto/sync_api.py): refused unfetched,
    not acknowledged, so it stays on the public host; ``reason`` is the contract's code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TooManyBlobs(SubmissionRefused, SyncLimitExceeded):
    """A submission lists more blobs or attachments than the protocol's ceiling allows."""


def refusal_of(reason: str, detail: str) -> SubmissionRefused:
    """The typed error for a listing item the contract refused, its text terminal-safe."""
    cls = (
        TooManyBlobs if reason in ("too_many_blobs", "too_many_attachments") else SubmissionRefused
    )
    return cls(f"{terminal_safe(detail)}: refused, left on the public host", reason)


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
class AckResult:
    deleted: tuple[str, ...]
    unknown: tuple[str, ...]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


class _DeadlineRequest(urllib.request.Request):
    """A request that carries the monotonic time by which its answer must have arrived."""

    def __init__(self, url: str, *, deadline: float, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.deadline = deadline


def _deadline_of(req: urllib.request.Request) -> float:
    return req.deadline if isinstance(req, _DeadlineRequest) else float("inf")


class _DeadlineReader(io.RawIOBase):
    """The socket's bytes, each read given only the time left before the deadline."""

    def __init__(self, sock: socket.socket, deadline: float, idle: float | None) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline
        self._idle = idle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request's deadline passed")
        self._sock.settimeout(left if self._idle is None else min(self._idle, left))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What ``HTTPResponse`` reads from: the socket behind a :class:`_DeadlineReader`."""

    def __init__(self, sock: socket.socket, deadline: float, idle: float | None) -> None:
        self._sock = sock
        self._deadline = deadline
        self._idle = idle

    def makefile(self, _mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline, self._idle))


class _DeadlineConnection(http.client.HTTPConnection):
    """HTTP whose status line, headers and body must all arrive before a deadline."""

    def __init__(self, host: str, *, deadline: float, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._deadline = deadline

    def getresponse(self) -> HTTPResponse:
        idle = self.timeout if isinstance(self.timeout, int | float) else None
        sock = self.sock

        def response(_sock: socket.socket, *args: Any, **kwargs: Any) -> HTTPResponse:
            return HTTPResponse(_DeadlineSocket(sock, self._deadline, idle), *args, **kwargs)  # type: ignore[arg-type]

        self.response_class = response  # type: ignore[assignment]
        return super().getresponse()


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    pass


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> HTTPResponse:
        return self.do_open(functools.partial(_DeadlineConnection, deadline=_deadline_of(req)), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> HTTPResponse:
        connection = functools.partial(_DeadlineHTTPSConnection, deadline=_deadline_of(req))
        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


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


class _SocksConnection(_DeadlineConnection):
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
        connection = functools.partial(
            _SocksConnection, proxy=self._proxy, deadline=_deadline_of(req)
        )
        return self.do_open(connection, req)


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
        request_deadline: float = DEFAULT_SYNC_REQUEST_DEADLINE_SECONDS,
        run_deadline: float = DEFAULT_SYNC_RUN_DEADLINE_SECONDS,
    ) -> None:
        """``timeout`` bounds the wait for each byte; ``request_deadline`` one whole request
        (plus :data:`BLOB_SECONDS_PER_BYTE` per byte of a blob); ``run_deadline`` every
        request of this client, counted from now: make one client per sync run."""
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("the sync URL must be http(s)://host[:port]")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._sync_key = sync_key
        self._timeout = timeout
        self._request_deadline = request_deadline
        self._run_deadline_seconds = run_deadline
        self._run_ends = time.monotonic() + run_deadline
        if parts.hostname and parts.hostname.endswith(".onion") and not socks_proxy:
            # Without tor the name would go to the system resolver: a leak, and no answer.
            raise ValueError("an .onion sync URL is reached through tor's SOCKS port only")
        if socks_proxy and parts.scheme != "http":
            raise ValueError("through tor's SOCKS port the sync URL is http://<address>.onion")
        # Exactly one handler opens http://: urllib asks handlers of equal order in the order
        # they were added, so a direct one beside the SOCKS one would bypass tor.
        http_handler: urllib.request.BaseHandler = (
            SocksHandler(parse_socks_address(socks_proxy))
            if socks_proxy
            else _DeadlineHTTPHandler()
        )
        handlers: list[urllib.request.BaseHandler] = [
            urllib.request.ProxyHandler({}),
            _RefuseRedirects(),
            http_handler,
            _DeadlineHTTPSHandler(),
        ]
        self._opener = urllib.request.build_opener(*handlers)

    @classmethod
    def from_config(cls, config: OfficerConfig, sync_key: SigningKey) -> "SyncClient":
        """The client the configuration asks for: URL, timeout and tor's SOCKS port if set."""
        return cls(
            config.sync_url,
            sync_key,
            config.sync_timeout_seconds,
            config.sync_socks,
            request_deadline=config.sync_request_deadline_seconds,
            run_deadline=config.sync_run_deadline_seconds,
        )

    @property
    def base_url(self) -> str:
        return self._origin + self._prefix

    def listing(self, limit: int = DEFAULT_LIST_LIMIT, after: str | None = None) -> Listing:
        """A page of submissions not yet acknowledged, oldest first, those after ``after``.

        Items that break the contract come back refused, one by one, with the others.
        """
        return self.listing_as_sent(limit, after)[0]

    def listing_as_sent(
        self, limit: int = DEFAULT_LIST_LIMIT, after: str | None = None
    ) -> tuple[Listing, list[object]]:
        """:meth:`listing`, and beside it each item as the public host sent it, in order."""
        document = self._json("GET", _path(submissions_path, limit, after))
        try:
            listing = parse_listing(document, limit)
        except SyncListingError as exc:
            raise SyncProtocolError(str(exc)) from exc
        items: list[object] = document["submissions"]
        return listing, items

    def list_submissions(self, limit: int = DEFAULT_LIST_LIMIT) -> list[ListedSubmission]:
        """The accepted submissions of the first page (refused items are left out)."""
        return list(self.listing(limit).submissions)

    def fetch_blob(self, submission_id: str, blob: ListedBlob, dst: BlobWriter) -> None:
        """Stream a blob into ``dst``, checking size and SHA-256 against the listing."""
        path = _path(blob_path, submission_id, blob.name)
        digest = hashlib.sha256()
        received = 0
        extra = blob.size * BLOB_SECONDS_PER_BYTE
        with self._request("GET", path, extra_seconds=extra) as response:
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
        body = json.dumps(_path(ack_request, ids)).encode("utf-8")
        document = self._json("POST", ACK_PATH, body, "application/json")
        try:
            deleted = parse_id_list(document.get("deleted") if isinstance(document, dict) else None)
            unknown = parse_id_list(document.get("unknown") if isinstance(document, dict) else None)
        except SyncListingError as exc:
            raise SyncProtocolError(
                "the acknowledgement answer lacks 'deleted' or 'unknown'"
            ) from exc
        return AckResult(deleted=tuple(deleted), unknown=tuple(unknown))

    def push_reply(self, reporter_id: str, reply_id: str, envelope: bytes) -> bool:
        """Store a reply envelope for a reporter; False when it was already stored."""
        # The reply id is in the path, so the signature covers it.
        path = _path(reply_path, reporter_id, reply_id)
        try:
            with self._request("POST", path, envelope, "application/octet-stream") as response:
                status = response.status
                self._read(response, MAX_JSON_BYTES)
        except _NotFound as exc:
            raise UnknownReporter(f"the public host knows no reporter {reporter_id}") from exc
        if status not in (200, 201):
            raise SyncProtocolError(f"unexpected status {status} for a reply")
        return status == 201

    def push_audit_anchor(self, document: bytes) -> bool:
        """Send a signed checkpoint of the audit chain; False when the host already kept it.

        The public host keeps them write-once: one that would rewrite or roll back those
        kept is refused (:class:`SyncProtocolError`, ``anchor_conflict``).
        """
        with self._request("POST", AUDIT_ANCHORS_PATH, document, "application/json") as response:
            created = response.status == 201
            self._read_capped(response)
        return created

    def put_transparency_page(self, name: str, content: bytes) -> bool:
        """Publish one transparency page on the public host; False when it held it already.

        A page the public host refuses (its name, size or content: crypto/transparency_page.py)
        is a :class:`SyncProtocolError` naming its reason.
        """
        path = _path(transparency_path, name)
        with self._request("PUT", path, content, "application/octet-stream") as response:
            status = response.status
            self._read_capped(response)
        if status not in (200, 201):
            raise SyncProtocolError(f"unexpected status {status} for a transparency page")
        return status == 201

    def fetch_latest_audit_anchor(self) -> bytes | None:
        """The latest checkpoint the public host keeps, as sent; None if it keeps none."""
        try:
            with self._request("GET", AUDIT_ANCHOR_LATEST_PATH) as response:
                return self._read_capped(response)
        except _NotFound:
            return None

    def fetch_recipient_set(self) -> bytes:
        """The signed recipient set the public host runs on, exactly as installed."""
        with self._request("GET", RECIPIENT_SET_PATH) as response:
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
        extra_seconds: float = 0.0,
    ) -> HTTPResponse:
        now = time.monotonic()
        if now >= self._run_ends:
            raise self._run_over()
        deadline = min(now + self._request_deadline + extra_seconds, self._run_ends)
        target = self._prefix + path
        headers = sign_request(self._sync_key, method, target, body)
        headers.update(extra_headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        # The scheme is http(s), checked in __init__.
        request = _DeadlineRequest(
            self._origin + target,
            data=body if method != "GET" else None,
            method=method,
            deadline=deadline,
        )
        for name, value in headers.items():
            request.add_header(name, value)
        try:
            timeout = min(self._timeout, max(deadline - now, 0.001))
            response: HTTPResponse = self._opener.open(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, method, path) from exc
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            if time.monotonic() >= deadline:
                raise self._too_slow(deadline) from exc
            # A malformed status line, for one, quotes what the public host sent.
            reason = terminal_safe(getattr(exc, "reason", exc))
            raise SyncUnreachable(
                f"cannot reach the public host at {self.base_url}: {reason}"
            ) from exc
        response.iblagh_deadline = deadline  # type: ignore[attr-defined]
        return response

    def _too_slow(self, deadline: float) -> SyncDeadlineExceeded:
        if deadline >= self._run_ends:
            return self._run_over()
        return SyncDeadlineExceeded(
            f"the public host at {self.base_url} answered too slowly: a request was stopped "
            f"after {self._request_deadline:g} s. What was stored is kept; sync again "
            "to resume.",
            seconds=self._request_deadline,
        )

    def _run_over(self) -> SyncDeadlineExceeded:
        return SyncDeadlineExceeded(
            f"the sync with {self.base_url} was stopped after {self._run_deadline_seconds:g} s "
            "(IBLAGH_SYNC_RUN_DEADLINE_SECONDS): the public host answered too slowly. What "
            "was stored is kept; sync again to resume.",
            seconds=self._run_deadline_seconds,
        )

    def _read(self, response: HTTPResponse, size: int) -> bytes:
        try:
            return response.read(size)
        except (OSError, HTTPException) as exc:
            deadline = getattr(response, "iblagh_deadline", float("inf"))
            if time.monotonic() >= deadline:
                raise self._too_slow(deadline) from exc
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
    """Refuse, before anything is fetched, a blob larger than this host accepts.

    The counts of blobs and attachments are the contract's, already checked by the
    parser (crypto/sync_api.py); the size is this host's own limit.
    """
    for blob in submission.blobs:
        if blob.size > max_blob_bytes:
            raise BlobTooLarge(
                f"blob {submission.id}/{blob.name} is listed at {blob.size} bytes, more than "
                f"IBLAGH_SYNC_MAX_BLOB_BYTES ({max_blob_bytes}): refused, left on the "
                "public host"
            )


def _path(build: Callable[..., _Built], *args: Any) -> _Built:
    """A path (or body) built by the contract; an id or name off its grammar is a protocol
    error, as when it came from the public host."""
    try:
        return build(*args)
    except ValueError as exc:
        raise SyncProtocolError(str(exc)) from exc
