"""HTTP by hand over a socket, for what urllib cannot do: stream a gigabyte, stop half-way."""

import http.client
import os
import re
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


@dataclass
class FormSession:
    """A session cookie and the CSRF token of a form page."""

    cookie: str
    token: str


def open_form(port: int, path: str = "/report") -> FormSession:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path)
    response = connection.getresponse()
    page = response.read().decode()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    connection.close()
    match = CSRF.search(page)
    assert match and cookie, "the form page gave no token or no cookie"
    return FormSession(cookie=cookie, token=match.group(1))


@dataclass
class FilePart:
    filename: str
    size: int
    chunks: Iterator[bytes]


class Multipart:
    """A multipart/form-data body sent in pieces: text fields, then streamed files."""

    def __init__(self, fields: dict[str, str], files: list[FilePart]) -> None:
        self.boundary = f"iblagh-{uuid.uuid4().hex}"
        self.fields = fields
        self.files = files

    def _field(self, name: str, value: str) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()

    def _file_head(self, part: FilePart) -> bytes:
        return (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="attachments"; '
            f'filename="{part.filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def length(self) -> int:
        size = sum(len(self._field(k, v)) for k, v in self.fields.items())
        size += sum(len(self._file_head(p)) + p.size + 2 for p in self.files)
        return size + len(f"--{self.boundary}--\r\n")

    def pieces(self) -> Iterator[bytes]:
        for name, value in self.fields.items():
            yield self._field(name, value)
        for part in self.files:
            yield self._file_head(part)
            yield from part.chunks
            yield b"\r\n"
        yield f"--{self.boundary}--\r\n".encode()


def repeated(size: int, block: bytes | None = None) -> Iterator[bytes]:
    """``size`` bytes as 1 MiB pieces of one random block (cheap to make, not compressible)."""
    block = block or os.urandom(1024 * 1024)
    sent = 0
    while sent < size:
        piece = block[: min(len(block), size - sent)]
        sent += len(piece)
        yield piece


def request_head(path: str, session: FormSession, body: Multipart, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {session.cookie}\r\n"
        f"Content-Type: {body.content_type}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def send_multipart(port: int, path: str, session: FormSession, body: Multipart) -> tuple[int, str]:
    """Send the whole body; returns the status and the page."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as raw:
        raw.sendall(request_head(path, session, body, body.length()))
        for piece in body.pieces():
            raw.sendall(piece)
        return read_response(raw)


def send_truncated(
    port: int,
    path: str,
    session: FormSession,
    body: Multipart,
    stop_after: int,
    *,
    half_close: bool,
) -> None:
    """Announce the whole body, send ``stop_after`` bytes of it, then hang up.

    ``half_close`` shuts the sending side only and waits for the answer (a body shorter
    than its Content-Length); otherwise the connection is dropped (a client gone).
    """
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        raw.sendall(request_head(path, session, body, body.length()))
        sent = 0
        for piece in body.pieces():
            piece = piece[: stop_after - sent]
            raw.sendall(piece)
            sent += len(piece)
            if sent >= stop_after:
                break
        if half_close:
            raw.shutdown(socket.SHUT_WR)
            read_response(raw)
    finally:
        raw.close()


def read_response(raw: socket.socket) -> tuple[int, str]:
    data = b""
    while chunk := raw.recv(65536):
        data += chunk
    head, _, page = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, page.decode(errors="replace")


def wait_until(predicate: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found
