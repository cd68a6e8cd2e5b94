"""Reports filed over real HTTP while the host may die at any moment, and the ledger of
what each reporter was shown.

Both sealing paths: the HTML form (``POST /report``, the host seals in memory and shows
the code in the page) and the browser path (``POST /report/sealed``, envelopes prepared
here exactly as source_app/static/js/report_form.js prepares them, files sent first as
resumable uploads as resumable_upload.js sends them; the code is shown once the host
answered 201). Each report carries its serial in its description, so the officer's side
can tell which reports arrived and how often.

A form that gets no answer (the host was killed) is sent again, byte for byte, once the
host is back, as a reporter reloading the page would, and so is a browser report without
files (a proxy repeating the POST): the second answer is the code (it was not committed),
or 409 (it was: the form token or the lookup hash is already spent, and the code was
never shown). See :func:`file_once` for a report with files.
"""

import hashlib
import http.client
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nacl.signing import SigningKey

from crypto.contents import (
    AttachmentRecord,
    IdentitySection,
    ReportBody,
    encode_reporter_key,
    envelope_sha256,
    new_binding,
)
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes
from crypto.receipt import (
    ReceiptCode,
    ReporterSecrets,
    derive_reporter_secrets,
    secrets_from_master_key,
)
from crypto.recipients import RecipientSet
from source_app.services.submission import attachment_blob_name
from tests.support.raw_http import FilePart, FormSession, Multipart, read_response, request_head

KINDS = ("form-text", "form-files", "sealed-text", "sealed-files")
SERIAL = re.compile(r"CRASH-REPORT-(\d{6})")
RECEIPT = re.compile(r"<bdi>([0-9 ]{24})</bdi>")
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
FORM_TOKEN = re.compile(r'name="form_token" type="hidden" value="([^"]+)"')
TIMEOUT = 60.0
# How long one report is sent again while the host does not answer.
RETRY_SECONDS = 120.0
# A file sent in more than one resumable part (source_app/storage.py: 8 MiB parts).
LARGE_FILE_BYTES = 9 * 1024 * 1024


def description_of(serial: int) -> str:
    return f"CRASH-REPORT-{serial:06d}: a channel sells stolen accounts"


@dataclass
class Filed:
    """One report a reporter tried to file, and what they were shown."""

    serial: int
    kind: str
    files: tuple[bytes, ...]
    identified: bool
    # The code shown (the form's page, or the browser's own code once the host said 201).
    code: str = ""
    # The reporter's public key the code derives: known ahead on the browser path.
    reporter_key: bytes = b""
    # shown | committed (409 after an unanswered try) | unanswered | unexpected
    outcome: str = "unanswered"
    statuses: list[int] = field(default_factory=list)


class HostGone(OSError):
    """The host did not answer: refused, reset, or closed before a whole response."""


def _get_form(port: int) -> tuple[FormSession, str]:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        connection.request("GET", "/report?lang=en")
        response = connection.getresponse()
        page = response.read().decode()
        cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
        connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise HostGone(str(exc)) from exc
    csrf, token = CSRF.search(page), FORM_TOKEN.search(page)
    if response.status != 200 or not (csrf and token and cookie):
        raise HostGone(f"the form page answered {response.status} without its tokens")
    return FormSession(cookie=cookie, token=csrf.group(1)), token.group(1)


@dataclass
class FormRequest:
    """A filled-in form, kept to be sent again unchanged."""

    session: FormSession
    body: Multipart
    files: tuple[bytes, ...]

    def send(self, port: int) -> tuple[int, str]:
        self.body.files = [
            FilePart(f"evidence-{n}.bin", len(content), iter([content]))
            for n, content in enumerate(self.files, start=1)
        ]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                raw.sendall(
                    request_head("/report?lang=en", self.session, self.body, self.body.length())
                )
                for piece in self.body.pieces():
                    raw.sendall(piece)
                status, page = read_response(raw)
        except (OSError, http.client.HTTPException) as exc:
            raise HostGone(str(exc)) from exc
        if status == 0:
            raise HostGone("no status line")
        if "</html>" not in page and not RECEIPT.search(page):
            # Killed while it sent the page: the reporter saw no code, and reloads.
            raise HostGone(f"a {status} page cut short")
        return status, page


def form_request(port: int, filed: Filed) -> FormRequest:
    session, form_token = _get_form(port)
    fields = {
        "csrf_token": session.token,
        "form_token": form_token,
        "category": "fraud",
        "urls": f"https://example.org/crash/{filed.serial}",
        "description": description_of(filed.serial),
        "identity": "identified" if filed.identified else "anonymous",
        "full_name": "Salma B." if filed.identified else "",
        "phone": "06 12 34 56 78" if filed.identified else "",
        "good_faith": "y",
    }
    return FormRequest(session, Multipart(fields, []), filed.files)


def reporter_secrets(derive: bool) -> tuple[str, ReporterSecrets]:
    """A new code and what it opens; without ``derive``, keys of no code (no argon2id)."""
    if not derive:
        return "", secrets_from_master_key(random.randbytes(32))
    code = ReceiptCode.generate()
    return code.grouped(), derive_reporter_secrets(code)


@dataclass
class SealedReport:
    """A report sealed as report_form.js seals it: the body and identity envelopes, and
    each attachment's envelope, sent as a resumable upload before the report itself."""

    secrets: ReporterSecrets
    documents: list[tuple[str, bytes]]
    attachments: list[tuple[str, bytes]]

    def payload(self, uploads: dict[str, str]) -> bytes:
        """The body of ``POST /report/sealed``, attachments named by their upload ids."""
        parts: list[list[object]] = [[name, len(e)] for name, e in self.documents]
        parts += [[name, len(e), uploads[name]] for name, e in self.attachments]
        manifest = json.dumps(
            {
                "lookup_value": b64encode(self.secrets.lookup_value),
                "reporter_public_key": b64encode(bytes(self.secrets.private_key.public_key)),
                "parts": parts,
            }
        ).encode()
        envelopes = b"".join(e for _, e in self.documents)
        return struct.pack(">I", len(manifest)) + manifest + envelopes


def seal_report(recipients: RecipientSet, filed: Filed, secrets: ReporterSecrets) -> SealedReport:
    """Seal ``filed`` as report_form.js does (sealReport): body version 2, signed."""
    report_keys, identity_keys = recipients.public_keys(), recipients.identity_public_keys()
    attachments, records = [], []
    for index, content in enumerate(filed.files, start=1):
        name = attachment_blob_name(index)
        meta = EnvelopeMetadata(kind="attachment", name=f"evidence-{index}.bin")
        attachments.append((name, seal_bytes(content, report_keys, meta)))
        records.append(AttachmentRecord(name, meta.name, "", len(content), _sha256(content)))
    binding = new_binding()
    documents: list[tuple[str, bytes]] = []
    identity_sha256 = None
    if filed.identified:
        section = IdentitySection(full_name="Salma B.", phone="0612345678", binding=binding)
        meta = EnvelopeMetadata(kind="identity", content_type="application/json")
        documents.append(("identity", seal_bytes(section.to_json(), identity_keys, meta)))
        identity_sha256 = envelope_sha256(documents[0][1])
    public_key = bytes(secrets.private_key.public_key)
    signing: SigningKey = secrets.signing_key
    body = ReportBody(
        category="fraud",
        urls=(f"https://example.org/crash/{filed.serial}",),
        description=description_of(filed.serial),
        language="en",
        good_faith=True,
        attachments=tuple(records),
        reporter_public_key=encode_reporter_key(public_key),
        binding=binding,
        identity_sha256=identity_sha256,
        reporter_verify_key=b64encode(bytes(signing.verify_key)),
    )
    meta = EnvelopeMetadata(kind="report", content_type="application/json")
    documents.insert(0, ("body", seal_bytes(body.to_signed_json(signing), report_keys, meta)))
    return SealedReport(secrets, documents, attachments)


class Unexpected(Exception):
    """The host answered what an honest host never answers here."""

    def __init__(self, status: int, page: str) -> None:
        super().__init__(f"{status}: {page[:200]}")
        self.status = status


def _script_request(
    port: int, session: FormSession, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, str, dict[str, str]]:
    """A request as the page's script sends it: session cookie and CSRF header."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        connection.request(
            method,
            path,
            body=body,
            headers={"X-CSRFToken": session.token, "Cookie": session.cookie, **headers},
        )
        response = connection.getresponse()
        page = response.read().decode(errors="replace")
        connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise HostGone(str(exc)) from exc
    return response.status, page, {k.lower(): v for k, v in response.getheaders()}


def _until_answered(
    attempt: Callable[[], tuple[int, str, dict[str, str]]], deadline: float
) -> tuple[int, str, dict[str, str]]:
    while True:
        try:
            return attempt()
        except HostGone:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def upload_envelope(
    port: Callable[[], int], session: FormSession, envelope: bytes, deadline: float
) -> str:
    """Send one envelope as resumable_upload.js does (UploadChannel, sealAndUpload): open
    it, send each part at the offset the host holds, and after a cut ask that offset and
    resend the part or go on. Returns the upload id."""
    declaration = json.dumps({"size": len(envelope)}).encode()
    status, page, _h = _until_answered(
        lambda: _script_request(
            port(), session, "POST", "/report/uploads", declaration,
            **{"Content-Type": "application/json"},
        ),
        deadline,
    )  # fmt: skip
    if status != 201:
        raise Unexpected(status, page)
    opened = json.loads(page)
    upload, part_bytes, offset = opened["upload"], opened["part_bytes"], 0
    ask_first = False
    while offset < len(envelope):
        end = min(offset + part_bytes, len(envelope))
        if ask_first:
            status, page, _h = _until_answered(
                lambda: _script_request(port(), session, "GET", f"/report/uploads/{upload}"),
                deadline,
            )
            if status != 200:
                raise Unexpected(status, page)
            held = json.loads(page)["offset"]
            if held == end:
                offset, ask_first = end, False
                continue
            if held != offset:
                raise Unexpected(409, f"the host holds {held}, the page sent {offset}")
        ask_first = True
        try:
            status, page, _h = _script_request(
                port(), session, "PATCH", f"/report/uploads/{upload}", envelope[offset:end],
                **{"Content-Type": "application/octet-stream", "Upload-Offset": str(offset)},
            )  # fmt: skip
        except HostGone:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
            continue
        if status == 200:
            offset, ask_first = json.loads(page)["offset"], False
        elif status != 409 and status < 500:
            raise Unexpected(status, page)
    return str(upload)


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


@dataclass
class SealedRequest:
    session: FormSession
    payload: bytes
    code: str = ""
    uploads: dict[str, str] = field(default_factory=dict)

    def send(self, port: int) -> tuple[int, str]:
        headers = {
            "Content-Type": "application/octet-stream",
            "X-CSRFToken": self.session.token,
            "Cookie": self.session.cookie,
            "Connection": "close",
        }
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            connection.request("POST", "/report/sealed", body=self.payload, headers=headers)
            response = connection.getresponse()
            page = response.read().decode(errors="replace")
            connection.close()
        except (OSError, http.client.HTTPException) as exc:
            raise HostGone(str(exc)) from exc
        return response.status, page


def file_once(
    port: Callable[[], int], filed: Filed, recipients: RecipientSet, *, derive: bool
) -> Filed:
    """File ``filed`` and record what the reporter was shown.

    The form (reloaded by the reporter) and a browser-sealed report without files (a
    proxy repeating the POST) are sent again, unchanged, until the host answers, for at
    most RETRY_SECONDS. A report with files goes as the page sends it: each file as a
    resumable upload, resumed after a cut, then the report; a lost answer to that last
    POST is not repeated (the page says it failed; its uploads are claimed for good).
    """
    request: FormRequest | SealedRequest | None = None
    code = ""
    deadline = time.monotonic() + RETRY_SECONDS
    try:
        while time.monotonic() < deadline:
            try:
                if request is None:
                    request = _prepare(port, filed, recipients, derive, deadline)
                    code = request.code if isinstance(request, SealedRequest) else ""
                status, page = request.send(port())
            except HostGone:
                if isinstance(request, SealedRequest) and request.uploads:
                    filed.statuses.append(0)
                    return filed  # the page's last POST is not repeated
                if request is not None:
                    filed.statuses.append(0)
                time.sleep(0.02)  # the host is being restarted: again once it listens
                continue
            _record(filed, status, page, code)
            return filed
    except Unexpected as exc:
        filed.statuses.append(exc.status)
        filed.outcome = "unexpected"
    return filed


def _prepare(
    port: Callable[[], int], filed: Filed, recipients: RecipientSet, derive: bool, deadline: float
) -> "FormRequest | SealedRequest":
    if filed.kind.startswith("form"):
        return form_request(port(), filed)
    code, secrets = reporter_secrets(derive)
    filed.reporter_key = bytes(secrets.private_key.public_key)
    session, _ = _get_form(port())
    sealed = seal_report(recipients, filed, secrets)
    uploads = {
        name: upload_envelope(port, session, envelope, deadline)
        for name, envelope in sealed.attachments
    }
    return SealedRequest(session, sealed.payload(uploads), code, uploads)


def _record(filed: Filed, status: int, page: str, code: str) -> None:
    unanswered_before = 0 in filed.statuses
    filed.statuses.append(status)
    if filed.kind.startswith("form") and status == 200 and (match := RECEIPT.search(page)):
        filed.code, filed.outcome = match.group(1), "shown"
    elif filed.kind.startswith("sealed") and status == 201:
        filed.code, filed.outcome = code, "shown"
    elif status == 409 and unanswered_before:
        filed.outcome = "committed"
    else:
        filed.outcome = "unexpected"


class Reporters:
    """Threads filing reports of every kind until stopped; the ledger of all of them."""

    def __init__(
        self,
        port: Callable[[], int],
        recipients: RecipientSet,
        seed: int,
        *,
        derive: bool = True,
        max_file_bytes: int = 512 * 1024,
        large_file_share: float = 0.0,
    ) -> None:
        self.port = port
        self.large_file_share = large_file_share
        self.recipients = recipients
        self.derive = derive
        self.max_file_bytes = max_file_bytes
        self.ledger: list[Filed] = []
        self.answers = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def next_filed(self, kind: str) -> Filed:
        with self._lock:
            serial = len(self.ledger)
            files: tuple[bytes, ...] = ()
            if kind.endswith("files"):
                count = self._random.randint(1, 3)
                sizes = [self._random.randint(1, self.max_file_bytes) for _ in range(count)]
                if kind.startswith("sealed") and self._random.random() < self.large_file_share:
                    # Over one 8 MiB part: an upload cut between its parts is resumed.
                    sizes[0] = self._random.randint(LARGE_FILE_BYTES, LARGE_FILE_BYTES * 5 // 4)
                files = tuple(self._random.randbytes(size) for size in sizes)
            filed = Filed(serial, kind, files, identified=self._random.random() < 0.5)
            self.ledger.append(filed)
            return filed

    def _run(self, kind: str) -> None:
        while not self._stop.is_set():
            filed = self.next_filed(kind)
            file_once(self.port, filed, self.recipients, derive=self.derive)
            with self._lock:
                self.answers += 1 if filed.statuses and filed.statuses[-1] else 0

    def start(self) -> None:
        for kind in KINDS:
            thread = threading.Thread(target=self._run, args=(kind,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2 * TIMEOUT)

    def answered(self) -> int:
        with self._lock:
            return self.answers
