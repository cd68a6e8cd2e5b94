"""Debian's nginx in front of test servers, run from deploy/nginx/iblagh-public.conf itself.

nginx runs in the foreground (``daemon off``) with its own prefix, pid file, logs and
temporary folders under the test's folder, on a loopback port; the reference server
block is the repository's file with its ``${...}`` values filled in.
"""

import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from tests.support.servers import REPO_ROOT, free_port

TEMPLATE = REPO_ROOT / "deploy" / "nginx" / "iblagh-public.conf"

MAIN = """\
daemon off;
worker_processes 1;
pid $folder/nginx.pid;
error_log $folder/error.log crit;
events { worker_connections 1024; }
http {
    client_body_temp_path $folder/body;
    proxy_temp_path $folder/proxy;
    fastcgi_temp_path $folder/fastcgi;
    uwsgi_temp_path $folder/uwsgi;
    scgi_temp_path $folder/scgi;
    include $folder/iblagh-public.conf;
}
"""


@dataclass
class Nginx:
    url: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes]


def nginx_binary() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx is not installed (make installs Debian's nginx)")
    return binary


def render(folder: Path, upstreams: Sequence[str], port: int, max_body: str = "502m") -> Path:
    """Write nginx.conf and the filled-in reference server block into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    servers = "\n    ".join(f"server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    site = Template(TEMPLATE.read_text(encoding="utf-8")).safe_substitute(
        LISTEN=f"127.0.0.1:{port}", PUBLIC_UPSTREAMS=servers, MAX_BODY=max_body
    )
    site = site.replace("/var/log/nginx/iblagh-public.error.log", str(folder / "site-error.log"))
    (folder / "iblagh-public.conf").write_text(site, encoding="utf-8")
    main = folder / "nginx.conf"
    main.write_text(Template(MAIN).substitute(folder=folder), encoding="utf-8")
    return main


@contextmanager
def running_nginx(folder: Path, upstreams: Sequence[str]) -> Iterator[Nginx]:
    """nginx in front of ``upstreams`` (HOST:PORT) until the block ends."""
    binary = nginx_binary()
    port = free_port()
    main = render(folder, upstreams, port)
    command = [binary, "-p", str(folder), "-c", str(main), "-e", str(folder / "startup.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Nginx(url=f"http://127.0.0.1:{port}", port=port, folder=folder, process=process)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                raise RuntimeError((folder / "startup.log").read_text(errors="replace"))
            try:
                urllib.request.urlopen(server.url + "/", timeout=2).close()  # noqa: S310
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGQUIT)  # graceful
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
