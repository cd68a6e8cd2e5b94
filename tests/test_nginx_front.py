"""Slow headers (issue 9, item 8): nginx in front keeps the public site answering.

gunicorn hands a connection to a thread as soon as its first bytes arrive; a client that
then sends its headers slowly holds that thread. 2 x (workers x threads) such clients
stop gunicorn alone (reproduced below); behind deploy/nginx/iblagh-public.conf, nginx
reads the headers and `GET /` and a whole report go through.
"""

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tests.conftest import UnitKeys, source_environ
from tests.support.nginx import running_nginx
from tests.support.raw_http import open_form
from tests.support.servers import Server, gunicorn

PUBLIC_APP = "source_app:create_app()"
WORKERS, THREADS = 1, 2
SLOW_CLIENTS = 2 * WORKERS * THREADS


@contextmanager
def slow_header_clients(port: int, count: int) -> Iterator[None]:
    """``count`` connections that start a request and send a header line every 0.5 s."""
    stop = threading.Event()
    sockets = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(b"GET / HTTP/1.1\r\nHost: iblagh.test\r\n")
        sockets.append(connection)

    def trickle() -> None:
        while not stop.wait(0.5):
            for connection in sockets:
                with suppress(OSError):
                    connection.sendall(b"X-Slow: 1\r\n")

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    time.sleep(0.5)  # every connection is in the server's hands
    try:
        yield
    finally:
        stop.set()
        trickler.join()
        for connection in sockets:
            connection.close()


def get_root(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status
    finally:
        connection.close()


@contextmanager
def public_host(tmp_path: Path, unit_keys: UnitKeys) -> Iterator[Server]:
    data_dir = tmp_path / "source"
    unit_keys.install(data_dir)
    environ = source_environ(data_dir)
    with gunicorn(
        PUBLIC_APP, environ, tmp_path / "public.log", workers=WORKERS, threads=THREADS
    ) as server:
        yield server


def test_slow_headers_stop_gunicorn_alone(tmp_path: Path, unit_keys: UnitKeys) -> None:
    """The attack, reproduced: why the reference deployment puts nginx in front."""
    with public_host(tmp_path, unit_keys) as server:
        assert get_root(server.port, timeout=5) == 200
        with slow_header_clients(server.port, SLOW_CLIENTS):
            try:
                status = get_root(server.port, timeout=3)
            except TimeoutError:
                status = None
        assert status is None, "gunicorn answered although every thread was held"


def test_behind_nginx_slow_headers_do_not_stop_the_site(
    tmp_path: Path, unit_keys: UnitKeys
) -> None:
    with (
        public_host(tmp_path, unit_keys) as server,
        running_nginx(tmp_path / "nginx", [f"127.0.0.1:{server.port}"]) as front,
    ):
        with slow_header_clients(front.port, SLOW_CLIENTS * 8):
            started = time.monotonic()
            assert get_root(front.port, timeout=3) == 200
            assert time.monotonic() - started < 2
            # A whole report with a 300 KiB file goes through as well, streamed to the
            # app (which seals it as it arrives), never spooled by nginx.
            form = open_form(front.port)
            boundary = "iblagh-test-boundary"
            fields = {
                "csrf_token": form.token,
                "category": "terrorism",
                "urls": "https://t.me/x/1",
                "description": "Seen through nginx",
                "identity": "anonymous",
                "good_faith": "y",
            }
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
                for name, value in fields.items()
            ]
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
                f'filename="MARKER-NAME.txt"\r\nContent-Type: text/plain\r\n\r\n'.encode()
                + b"PLAINTEXT-MARKER " * 18_000
                + b"\r\n"
            )
            body = b"".join(parts) + f"--{boundary}--\r\n".encode()
            connection = http.client.HTTPConnection("127.0.0.1", front.port, timeout=30)
            connection.request(
                "POST",
                "/report?lang=en",
                body=body,
                headers={
                    "Cookie": form.cookie,
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                },
            )
            response = connection.getresponse()
            page = response.read()
            assert response.status == 200, page[:500]
            assert b"<bdi>" in page
        headers = dict(response.getheaders())
        assert headers.get("Server") == "nginx", "no version in the banner"
    # No address of any client in anything nginx wrote.
    for log in (tmp_path / "nginx").glob("*.log"):
        assert "127.0.0.1" not in log.read_text(errors="replace"), log.name
    assert (
        not any((tmp_path / "nginx" / "body").rglob("*"))
        if (tmp_path / "nginx" / "body").exists()
        else True
    )
