"""The officer app under a real gunicorn, as `make run` starts it (issue 9, finding 10):
no ``Server`` banner, and its logs readable by its own user only."""

import contextlib
import http.client
import os
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, Server, free_port, gunicorn

OFFICER_CONF = "python:journalist_app.gunicorn_conf"


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _officer_environ(data_dir: Path) -> dict[str, str]:
    return {"IBLAGH_DATA_DIR": str(data_dir), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}


def _headers(port: int, path: str) -> dict[str, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return {name.lower(): value for name, value in response.getheaders()}


@pytest.fixture
def officer_server(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    logs = tmp_path / "logs"
    logs.mkdir()
    environ = {
        **_officer_environ(tmp_path / "officer"),
        # What an operator adds on the command line: logs to files gunicorn creates.
        "GUNICORN_CMD_ARGS": f"--access-logfile {logs / 'access.log'} "
        f"--error-logfile {logs / 'error.log'}",
    }
    # A permissive umask, as a login shell usually has (022): the conf must not rely on it.
    with (
        _umask(0o022),
        gunicorn(
            "journalist_app.wsgi:app",
            environ,
            tmp_path / "stdout.log",
            config=OFFICER_CONF,
            probe_path="/login",
        ) as server,
    ):
        yield server, logs


@pytest.mark.parametrize("path", ["/login", "/", "/static/officer.css", "/nope"])
def test_the_officer_gunicorn_sends_no_server_banner(officer_server, path: str) -> None:
    server, _ = officer_server
    headers = _headers(server.port, path)
    assert "server" not in headers, headers.get("server")


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /login?q=" + b"<b>" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /<script>alert(1)</script> x HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /login HTTP/1.1\r\nHost: x\r\nCookie: \x00<b>\r\n\r\n",
    ],
)
def test_what_the_officer_gunicorn_refuses_itself_carries_the_security_headers(
    officer_server, request_bytes: bytes
) -> None:
    server, _ = officer_server
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {line.partition(":")[0].lower(): line.partition(":")[2].strip() for line in lines}
    assert status.split()[1] in {"400", "414"}
    assert "server" not in headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert b"<" not in body and b"script" not in body


def test_the_officer_gunicorn_creates_its_logs_for_its_user_only(officer_server) -> None:
    server, logs = officer_server
    _headers(server.port, "/login")
    access = logs / "access.log"
    for _ in range(50):  # the access line is written after the answer
        if access.exists() and access.stat().st_size:
            break
        time.sleep(0.1)
    for log in (access, logs / "error.log"):
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, log
    line = access.read_text()
    assert "GET /login 200" in line and "127.0.0.1" not in line


def test_make_run_starts_the_officer_app_without_banner_and_with_private_logs(
    tmp_path: Path,
) -> None:
    """scripts/run-demo.sh itself: the shell creates the log files, under its umask."""
    var = tmp_path / "var"
    ports = {name: str(free_port()) for name in ("PUBLIC", "SYNC", "OFFICER")}
    environ = {
        **os.environ,
        "IBLAGH_VAR": str(var),
        **{f"IBLAGH_{name}_PORT": port for name, port in ports.items()},
        "IBLAGH_ONION": "0",
    }
    log = (tmp_path / "run-demo.out").open("wb")
    with _umask(0o022):
        process = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts" / "run-demo.sh")],
            cwd=REPO_ROOT,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while b"Iblagh is running" not in (tmp_path / "run-demo.out").read_bytes():
            assert process.poll() is None, (tmp_path / "run-demo.out").read_text()
            assert time.monotonic() < deadline, (tmp_path / "run-demo.out").read_text()
            time.sleep(0.2)
        headers = _headers(int(ports["OFFICER"]), "/login")
        assert "server" not in headers, headers.get("server")
        logs = sorted((var / "log").iterdir())
        assert [p.name for p in logs] == ["officer.log", "public.log", "sync.log"]
        for path in logs:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()
