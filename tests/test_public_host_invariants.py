"""docs/invariants.md, 1-4, checked on a real public host: gunicorn, SQLite, files, logs.

Each test would fail if the invariant broke: they search raw bytes, try real keys and
kill real processes.
"""

import base64
import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.request import HTTPCookieProcessor, build_opener

import pytest
from nacl.public import PrivateKey, PublicKey

from crypto.envelope import EnvelopeMetadata, open_bytes, read_header, seal_bytes
from crypto.errors import CryptoError
from crypto.keys import key_id
from crypto.receipt import ReceiptCode, derive_reporter_secrets
from tests.conftest import UnitKeys, source_environ
from tests.support.servers import Server, gunicorn

MARKER = "IBLAGH-MARKER-7f3a9c"
ARABIC_MARKER = "علامة-سرية-٧٣٩"
PUBLIC_APP = "source_app:create_app()"


class WebReporter:
    """A reporter over real HTTP, with a cookie jar like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))
        self.opener.addheaders = [("User-Agent", f"Mozilla/5.0 {MARKER}-agent")]

    def _token(self, path: str) -> str:
        with self.opener.open(self.base_url + path) as response:  # loopback only
            page = response.read().decode()
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert match
        return match.group(1)

    def post(self, path: str, fields: dict[str, str]) -> str:
        data = urllib.parse.urlencode({"csrf_token": self._token(path), **fields}).encode()
        with self.opener.open(self.base_url + path, data=data, timeout=30) as response:
            return str(response.read().decode())

    def report(self, marker: str, identified: bool = True) -> str:
        page = self.post(
            "/report",
            {
                "category": "terrorism",
                "urls": f"https://t.me/{marker}/1",
                "platform": f"{marker} platform",
                "account": f"@{marker}",
                "description": f"{marker} {ARABIC_MARKER} description",
                "identity": "identified" if identified else "anonymous",
                "full_name": f"{marker} name" if identified else "",
                "email": f"{marker.lower()}@example.org" if identified else "",
                "city": f"{marker} city" if identified else "",
                "good_faith": "y",
            },
        )
        match = re.search(r"<bdi>([0-9 ]{24})</bdi>", page)
        assert match
        return match.group(1)


def host_environ(tmp_path: Path, source_data_dir: Path) -> dict[str, str]:
    """The host's environment: its own TMPDIR and HOME to scan, and a record of its writes."""
    for name in ("host-tmp", "host-home"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        **source_environ(source_data_dir),
        "TMPDIR": str(tmp_path / "host-tmp"),
        "HOME": str(tmp_path / "host-home"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "IBLAGH_TEST_OPEN_LOG": str(tmp_path / "opened-for-writing.jsonl"),
    }


AUDITED_CONF = "python:tests.support.audited_gunicorn_conf"


def plaintext_needles(marker: str) -> list[bytes]:
    """The marker as text, UTF-16, hex, and base64 at each of the three alignments."""
    raw = marker.encode()
    needles = [raw, marker.encode("utf-16-le"), raw.hex().encode(), raw.hex().upper().encode()]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        needles.append(encoded[4 : 4 + (len(raw) * 4) // 3 - 4])
    return [needle for needle in needles if len(needle) >= 12]


@pytest.fixture
def public_server(tmp_path: Path, source_data_dir: Path) -> Iterator[Server]:
    with gunicorn(
        PUBLIC_APP,
        host_environ(tmp_path, source_data_dir),
        tmp_path / "public.log",
        workers=2,
        config=AUDITED_CONF,
        cwd=tmp_path / "host-home",
    ) as server:
        yield server


def files_under(*roots: Path) -> Iterator[Path]:
    for root in roots:
        if root.is_file():
            yield root
        elif root.is_dir():
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    yield path


def test_public_host_writes_no_plaintext_anywhere(
    tmp_path: Path, source_data_dir: Path, public_server: Server
) -> None:
    """Invariant 1: the marker typed in every field is in no file, database, temp file or log."""
    reporter = WebReporter(public_server.url)
    codes = [reporter.report(f"{MARKER}-{i}", identified=i % 2 == 0) for i in range(12)]
    for code in codes[:3]:
        assert "Received" in reporter.post("/status?lang=en", {"code": code})
    # Bad input must not leak either: a refused form carrying the marker.
    with pytest.raises(Exception):  # noqa: B017 - a 400 raises HTTPError
        reporter.post("/report", {"category": MARKER, "description": MARKER})
    time.sleep(0.5)  # let the log lines land
    # Its data dir, log, TMPDIR, HOME and working directory (host-home).
    written = list(
        files_under(
            source_data_dir, public_server.log_path, tmp_path / "host-tmp", tmp_path / "host-home"
        )
    )
    assert any(p.name.endswith(".db") for p in written), "scan must cover the database"
    assert any("blobs" in p.parts for p in written), "scan must cover the blob store"
    needles = plaintext_needles(MARKER) + plaintext_needles(ARABIC_MARKER)
    for path in written:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"plaintext found in {path}"
    for code in codes:
        digits = code.replace(" ", "").encode()
        # The lookup value stands in for the code (docs/receipt.md): only its hash is kept.
        lookup_value = derive_reporter_secrets(ReceiptCode.parse(code)).lookup_value
        for path in written:
            content = path.read_bytes()
            assert digits not in content, f"receipt code found in {path}"
            for needle in (
                lookup_value,
                lookup_value.hex().encode(),
                base64.b64encode(lookup_value),
            ):
                assert needle not in content, f"a lookup value found in {path}"
    # Files that no longer exist (a temporary file unlinked at once) are in the record of
    # every open-for-writing: each must lie in the blob store, nowhere else.
    opened = [json.loads(line) for line in (tmp_path / "opened-for-writing.jsonl").open()]
    assert opened, "the write record must be on for this test to mean anything"
    for entry in opened:
        path = Path(entry["path"])
        if entry["event"] == "os.mkdir" and path.is_relative_to(source_data_dir):
            continue  # the data dir and the blob store's folders
        if entry["path"].isdigit() or (
            path.parent == source_data_dir and "session-secret" in path.name
        ):
            continue  # a descriptor opened (and recorded) before; the CSRF signing secret
        assert path.is_relative_to(source_data_dir / "blobs"), f"the host wrote {entry}"


def test_the_write_record_sees_a_temporary_file_unlinked_at_once(tmp_path: Path) -> None:
    """The record above must catch the sink invariant 1 names (Werkzeug's spooled upload)."""
    record = tmp_path / "record.jsonl"
    script = (
        "import sys, tempfile, types\n"
        "import tests.support.audited_gunicorn_conf as conf\n"
        "conf.production_post_fork = lambda server, worker: None\n"
        "conf.post_fork(None, None)\n"
        "with tempfile.TemporaryFile() as spool:\n"
        "    spool.write(b'plaintext')\n"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "IBLAGH_TEST_OPEN_LOG": str(record), "TMPDIR": str(tmp_path)},
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    entries = [json.loads(line) for line in record.open()]
    assert any(Path(e["path"]).is_relative_to(tmp_path) for e in entries), entries


def test_public_host_logs_no_address_and_no_user_agent(
    source_data_dir: Path, public_server: Server
) -> None:
    """Invariant 3: not even a malformed request puts the client's address in the log."""
    reporter = WebReporter(public_server.url)
    reporter.report(MARKER, identified=False)
    with socket.create_connection(("127.0.0.1", public_server.port), timeout=5) as raw:
        raw.sendall(b"GARBAGE \x00\x01 NOT-HTTP\r\n\r\n")
        raw.recv(1024)
    connection = http.client.HTTPConnection("127.0.0.1", public_server.port, timeout=5)
    connection.request("GET", "/report?code=12345678901234567890", headers={"User-Agent": MARKER})
    connection.getresponse().read()
    time.sleep(0.5)
    log = public_server.log_path.read_text(errors="replace")
    assert "GET /report " in log, "access log must be on for this test to mean anything"
    assert "127.0.0.1" not in log
    assert MARKER not in log
    assert "12345678901234567890" not in log


def key_candidates(content: bytes) -> Iterator[bytes]:
    """Every 32-byte window of a file, and every base64 or hex token that decodes to 32 bytes."""
    for start in range(0, max(0, len(content) - 31)):
        yield content[start : start + 32]
    text = content.decode("latin-1")
    for token in re.findall(r"[A-Za-z0-9+/=_-]{43,90}", text):
        for decode in (base64.b64decode, base64.urlsafe_b64decode, bytes.fromhex):
            try:
                raw = decode(token)  # type: ignore[operator]
            except (ValueError, TypeError):
                continue
            for start in range(0, max(0, len(raw) - 31)):
                yield raw[start : start + 32]


def test_public_host_holds_no_key_that_opens_a_report(
    source_data_dir: Path, public_server: Server, unit_keys: UnitKeys
) -> None:
    """Invariant 2: try every key-looking byte string on the host against a sealed report."""
    WebReporter(public_server.url).report(MARKER)
    recipients = unit_keys.recipient_set.public_keys()
    sealed = seal_bytes(b"test report", recipients, EnvelopeMetadata(kind="report"))
    # Every envelope the host stored is sealed to the recipient set and to nobody else: a
    # hidden extra recipient (an "escrow" key) would be a key that opens reports.
    allowed_ids = {key_id(bytes(r.public_key)) for r in unit_keys.recipient_set.recipients}
    stanza_ids: set[bytes] = set()
    for blob in files_under(source_data_dir / "blobs"):
        with blob.open("rb") as envelope:
            _, ids = read_header(envelope)
        assert set(ids) <= allowed_ids, f"{blob} is sealed to a key outside the recipient set"
        stanza_ids.update(ids)
    assert stanza_ids, "the host stored no envelope to check"
    targets = {r.public_key for r in unit_keys.recipient_set.recipients}  # identity key too
    tried = 0
    for path in files_under(source_data_dir):
        content = path.read_bytes()
        if len(content) > 4 * 1024 * 1024:
            continue
        for candidate in set(key_candidates(content)):
            tried += 1
            public = bytes(PrivateKey(candidate).public_key)
            if public in targets or key_id(public) in stanza_ids:
                pytest.fail(f"{path} holds a private key that opens stored envelopes")
    assert tried > 1000, "the scan must actually try candidates"
    # And the sealed report really needs a unit key: the recovery key opens it.
    assert open_bytes(sealed, [unit_keys.recovery])[1] == b"test report"
    with pytest.raises(CryptoError):
        open_bytes(sealed, [PrivateKey.generate()])
    assert PublicKey(bytes(unit_keys.intake.public_key)) in [
        PublicKey(bytes(k)) for k in recipients
    ]


def test_a_report_killed_before_commit_leaves_no_row_and_no_blob(
    tmp_path: Path, source_data_dir: Path
) -> None:
    """Invariant 4: kill the host between sealing and commit; nothing half-made survives."""
    database = source_data_dir / "source.db"
    environ = host_environ(tmp_path, source_data_dir)
    with gunicorn(PUBLIC_APP, environ, tmp_path / "kill.log", workers=1) as server:
        reporter = WebReporter(server.url)
        reporter.report("warm-up", identified=False)  # creates tables; not part of the test
        blobs_before = {p.name for p in files_under(source_data_dir / "blobs")}
        lock = sqlite3.connect(database, timeout=30)
        lock.execute("BEGIN IMMEDIATE")  # the host's commit now waits on us
        outcome: dict[str, object] = {}

        def submit() -> None:
            try:
                outcome["page"] = reporter.report(MARKER)
            except Exception as exc:  # the connection dies with the host
                outcome["error"] = exc

        thread = threading.Thread(target=submit)
        thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            finished = {
                p.name for p in files_under(source_data_dir / "blobs") if ".incoming" not in p.parts
            }
            if len(finished - blobs_before) >= 2:  # body and identity stored; commit is blocked
                break
            time.sleep(0.02)
        else:
            pytest.fail("the host never reached the commit")
        server.kill()
        thread.join(timeout=30)
        lock.rollback()
        lock.close()
    assert "page" not in outcome, "a receipt code was shown without a commit"
    recover = subprocess.run(
        [sys.executable, "-m", "source_app.cli", "recover"],
        env={**os.environ, **environ},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "removed 2 unreferenced blob" in recover.stdout
    rows = sqlite3.connect(database).execute("SELECT count(*) FROM submissions").fetchone()[0]
    assert rows == 1  # the warm-up report only
    blobs_after = {p.name for p in files_under(source_data_dir / "blobs")}
    assert blobs_after == blobs_before, "an orphan blob survived"


def test_host_refuses_to_start_on_a_recipient_set_signed_by_another_key(
    tmp_path: Path, source_data_dir: Path
) -> None:
    """A forged recipient set would seal reports to an attacker: the host must not start."""
    from crypto.keys import generate_signing_key
    from crypto.recipients import sign_recipient_set

    forged_keys = UnitKeys(
        intake=PrivateKey.generate(),
        recovery=PrivateKey.generate(),
        signing=generate_signing_key(),
        sync=generate_signing_key(),
        identity=PrivateKey.generate(),
    )
    (source_data_dir / "recipient-set.json").write_bytes(
        sign_recipient_set(forged_keys.recipient_set, forged_keys.signing)
    )
    result = subprocess.run(
        [sys.executable, "-m", "source_app.cli", "check"],
        env={**os.environ, **source_environ(source_data_dir)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "does not verify against the pinned unit key" in result.stderr
    with (
        pytest.raises(RuntimeError, match="server exited"),
        gunicorn(PUBLIC_APP, source_environ(source_data_dir), tmp_path / "refuse.log"),
    ):
        pass
    assert json.loads((source_data_dir / "recipient-set.json").read_bytes())["signature"]


@pytest.mark.parametrize(
    "path", ["/", "/report", "/status", "/nope", "/static/style.css", "/report?lang=ar"]
)
def test_gunicorn_sends_no_server_banner_and_the_security_headers(
    public_server: Server, path: str
) -> None:
    """The real server, not the test client: gunicorn adds its own headers after Flask's."""
    connection = http.client.HTTPConnection("127.0.0.1", public_server.port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    headers = {name.lower(): value for name, value in response.getheaders()}
    assert "server" not in headers, headers.get("server")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    if not path.startswith("/static/"):
        assert headers["cache-control"] == "no-store"


def _refused_by_gunicorn(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send bytes gunicorn refuses before Flask sees them; the status line, headers, body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


GUNICORN_REFUSALS = [
    # A request line over gunicorn's 4094 bytes: a long link, query string or path.
    (b"GET /?q=" + b"<b>" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", "414"),
    # A request line that is not HTTP: gunicorn used to quote it back in its page.
    (b"GET /<script>alert(1)</script> x HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nAccept-Language: ar-\x00<b>\r\n\r\n", "400"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", "431"),
]


@pytest.mark.parametrize(("request_bytes", "code"), GUNICORN_REFUSALS)
def test_what_gunicorn_refuses_itself_carries_the_security_headers_and_quotes_nothing(
    public_server: Server, request_bytes: bytes, code: str
) -> None:
    status, headers, body = _refused_by_gunicorn(public_server.port, request_bytes)
    assert status.startswith(f"HTTP/1.1 {code} ")
    assert "server" not in headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert b"<" not in body and b"script" not in body and b"aaaa" not in body
