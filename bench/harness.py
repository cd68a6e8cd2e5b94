"""Demo unit keys in a temporary data dir, gunicorn as a subprocess, and its RSS."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from crypto.encoding import b64encode
from crypto.keys import generate_box_key, generate_signing_key
from crypto.recipients import make_recipient_set, sign_recipient_set

HOST = "127.0.0.1"


def make_data_dir(data_dir: Path) -> None:
    """A signed recipient set and the unit verify key, as a unit would publish them."""
    intake, identity, recovery = generate_box_key(), generate_box_key(), generate_box_key()
    signing, sync = generate_signing_key(), generate_signing_key()
    recipients = make_recipient_set(
        1,
        "2026-11-28T00:00:00Z",
        [intake.public_key],
        recovery.public_key,
        [sync.verify_key],
        identity_keys=[identity.public_key],
    )
    (data_dir / "recipient-set.json").write_bytes(sign_recipient_set(recipients, signing))
    (data_dir / "unit-verify-key").write_text(b64encode(bytes(signing.verify_key)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    """gunicorn on 127.0.0.1 as in production (source_app.gunicorn_conf), logs to a file."""

    def __init__(self, data_dir: Path, workers: int, threads: int) -> None:
        self.port = free_port()
        # The submission rate limit is lifted (0 = off): with it, the bench measures the limiter.
        self.env = {
            **os.environ,
            "IBLAGH_DATA_DIR": str(data_dir),
            "IBLAGH_SUBMISSIONS_PER_MINUTE": "0",
        }
        self.target = "source_app:create_app()"
        self.log = data_dir / "gunicorn.log"
        self.argv = [
            sys.executable, "-m", "gunicorn", "--workers", str(workers), "--threads",
            str(threads), "--bind", f"{HOST}:{self.port}",
            "--config", "python:source_app.gunicorn_conf",
            "--error-logfile", str(self.log), "--access-logfile", str(self.log),
            "--no-control-socket", self.target,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.proc = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with opener.open(self.base_url + "/", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        raise RuntimeError(f"gunicorn did not answer on {self.base_url}\n{tail}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def _rss_kib(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # the process just exited
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:"), 0)


def _ppid(entry: Path) -> int:
    try:
        return int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


def _children(ppid: int) -> list[int]:
    """Walk /proc (task/*/children needs a kernel option)."""
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _ppid(e) == ppid]


class RssSampler(threading.Thread):
    """Every 100 ms: RSS of the master plus its workers; keeps both peaks (KiB)."""

    def __init__(self, master: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.master, self.interval = master, interval
        self.peak_total = self.peak_worker = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            workers = [_rss_kib(pid) for pid in _children(self.master)]
            self.peak_total = max(self.peak_total, _rss_kib(self.master) + sum(workers))
            self.peak_worker = max(self.peak_worker, *workers, 0)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
