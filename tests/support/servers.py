"""Real servers for tests: gunicorn subprocesses on 127.0.0.1, with their logs in a file."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    """A running server: its base URL, process and log file."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: master and workers, no clean-up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text(errors='replace')[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 - loopback only
            return
        except urllib.error.HTTPError:
            return  # it answered, even if with an error status
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {log_path.read_text(errors='replace')[-3000:]}")


@contextmanager
def gunicorn(
    app_spec: str,
    environ: Mapping[str, str],
    log_path: Path,
    *,
    config: str | None = "python:source_app.gunicorn_conf",
    workers: int = 1,
    threads: int = 4,
    probe_path: str = "/",
    cwd: Path | None = None,
    port: int | None = None,
) -> Iterator[Server]:
    """Run ``gunicorn app_spec`` on a free loopback port (or ``port``, to restart a
    server where its clients expect it) until the block ends."""
    port = port or free_port()
    command = [GUNICORN, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    command += ["--threads", str(threads), "--graceful-timeout", "2"]
    if config:
        command += ["--config", config]
    command.append(app_spec)
    env = {**os.environ, **environ}
    # The repository root, so test-only gunicorn settings (tests.support...) import anywhere.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    log = log_path.open("ab")
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=cwd,
    )
    server = Server(url=f"http://127.0.0.1:{port}", port=port, process=process, log_path=log_path)
    try:
        wait_until_up(server.url + probe_path, process, log_path)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        log.close()
