"""Slow-header clients against the public site, alone and behind the reference nginx.

``python -m bench.slow_headers [--workers 4] [--threads 4] [--clients 16,32,1000]``

Starts the public site under gunicorn as in production, then Debian's nginx in front of
it with deploy/nginx/iblagh-public.conf (foreground, own prefix in a temporary folder,
loopback). For each number of clients it opens that many connections that send a request
line and then one header line every 0.5 s, and times five ``GET /`` (3 s timeout each),
first straight to gunicorn, then through nginx. Nothing leaves 127.0.0.1.
"""

import argparse
import http.client
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from string import Template

from bench.harness import HOST, Server, free_port, make_data_dir

TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "iblagh-public.conf"
MAIN = """daemon off;
worker_processes 1;
pid $folder/nginx.pid;
error_log $folder/error.log crit;
events { worker_connections 4096; }
http {
    client_body_temp_path $folder/body;
    proxy_temp_path $folder/proxy;
    fastcgi_temp_path $folder/fastcgi;
    uwsgi_temp_path $folder/uwsgi;
    scgi_temp_path $folder/scgi;
    include $folder/site.conf;
}
"""


@contextmanager
def nginx_in_front(folder: Path, upstream_port: int) -> Iterator[int]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    site = (
        Template(TEMPLATE.read_text(encoding="utf-8"))
        .safe_substitute(
            LISTEN=f"{HOST}:{port}",
            PUBLIC_UPSTREAMS=f"server {HOST}:{upstream_port};",
            MAX_BODY="502m",
        )
        .replace("/var/log/nginx/iblagh-public.error.log", str(folder / "site-error.log"))
    )
    (folder / "site.conf").write_text(site, encoding="utf-8")
    (folder / "nginx.conf").write_text(Template(MAIN).substitute(folder=folder))
    process = subprocess.Popen([binary, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                "-e", str(folder / "startup.log")])  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while get_root(port, 1) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)


@contextmanager
def slow_clients(port: int, count: int) -> Iterator[None]:
    stop = threading.Event()
    sockets = []
    for _ in range(count):
        connection = socket.create_connection((HOST, port), timeout=5)
        connection.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n")
        sockets.append(connection)

    def trickle() -> None:
        while not stop.wait(0.5):
            for connection in sockets:
                with suppress(OSError):
                    connection.sendall(b"X-Slow: 1\r\n")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    time.sleep(0.5)
    try:
        yield
    finally:
        stop.set()
        thread.join()
        for connection in sockets:
            connection.close()


def get_root(port: int, timeout: float) -> float | None:
    """Seconds ``GET /`` took to answer 200, or None."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", "/")
        ok = connection.getresponse().status == 200
    except OSError:
        return None
    finally:
        connection.close()
    return time.monotonic() - started if ok else None


def five_gets(port: int) -> str:
    times = [get_root(port, 3) for _ in range(5)]
    answered = [t for t in times if t is not None]
    slowest = f", slowest {max(answered) * 1000:.0f} ms" if answered else ""
    return f"{len(answered)}/5 answered{slowest}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", default="16,32,1000")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="iblagh-slow-") as temporary:
        data_dir = Path(temporary) / "source"
        data_dir.mkdir()
        make_data_dir(data_dir)
        server = Server(data_dir, args.workers, args.threads)
        server.start()
        try:
            (Path(temporary) / "nginx").mkdir()
            with nginx_in_front(Path(temporary) / "nginx", server.port) as front:
                print(f"gunicorn {args.workers} workers x {args.threads} threads")
                print("| slow-header clients | GET / straight to gunicorn | GET / through nginx |")
                print("|---|---|---|")
                for count in counts:
                    with slow_clients(server.port, min(count, 200)):
                        alone = five_gets(server.port)
                    with slow_clients(front, count):
                        behind = five_gets(front)
                    shown = f"{count}" if count <= 200 else f"{count} (gunicorn: 200)"
                    print(f"| {shown} | {alone} | {behind} |")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
