"""The processes the harness kills: gunicorn on a fixed loopback port, started again after
each kill, and ``iblagh-*`` commands; and the recovery an operator runs after a crash."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.support.servers import GUNICORN, REPO_ROOT, free_port, wait_until_up

SOURCE_CONF = "python:source_app.gunicorn_conf"
RECOVERED = re.compile(r"removed (\d+) unreferenced blob\(s\) and (\d+) unfinished write\(s\)")


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment with ``extra`` and the repository importable."""
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


class RestartableGunicorn:
    """gunicorn (master and workers in one process group) on one port across restarts."""

    def __init__(
        self, app_spec: str, environ: Mapping[str, str], log_path: Path, probe_path: str
    ) -> None:
        self.app_spec = app_spec
        self.environ = environ
        self.log_path = log_path
        self.probe_path = probe_path
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and return once it answers its probe (a real request, not a sleep)."""
        command = [GUNICORN, "--bind", f"127.0.0.1:{self.port}", "--workers", "2"]
        command += ["--threads", "4", "--graceful-timeout", "2", "--config", SOURCE_CONF]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, self.app_spec],
                env=environment(self.environ),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=REPO_ROOT,
            )
        wait_until_up(self.url + self.probe_path, self.process, self.log_path)

    def kill(self) -> None:
        """SIGKILL master and workers at once: no clean-up of any kind."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


def recover_public_host(environ: Mapping[str, str]) -> int:
    """``iblagh-source recover`` (docs/operator.md): what it removed, blobs and writes."""
    result = subprocess.run(
        [sys.executable, "-m", "source_app.cli", "recover"],
        env=environment(environ),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    match = RECOVERED.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"recover failed: {result.stdout}{result.stderr}")
    return int(match.group(1)) + int(match.group(2))


class ForkedCommand:
    """``iblagh-officer ARGS`` in a child forked from this process once the officer host's
    code is imported: its own process and process group, its own database connections,
    so SIGKILL is a real crash, and a run starts in milliseconds, not after two seconds of
    imports (every kill then falls in the command's work, and the short form stays short).
    """

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"iblagh-officer (pid {self.pid})", timeout or 0)
            time.sleep(0.002)
        assert self.returncode is not None
        return self.returncode


def officer_command(
    environ: Mapping[str, str],
    log_path: Path,
    *args: str,
    plant: Callable[[], None] | None = None,
) -> ForkedCommand:
    """Start ``iblagh-officer ARGS`` with the ``IBLAGH_*`` settings ``environ`` alone; its
    output goes to ``log_path``. ``plant`` runs in the child first (a planted bug)."""
    from journalist_app.cli.main import main  # imported once, here, before any fork

    with log_path.open("ab") as log:
        log.write(f"$ iblagh-officer {' '.join(args)}\n".encode())
        log.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the harness
            code = 70
            try:
                os.setsid()
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
                for name in [name for name in os.environ if name.startswith("IBLAGH_")]:
                    del os.environ[name]
                os.environ.update({"IBLAGH_TESTING": "1", **environ})
                if plant is not None:
                    plant()
                code = main(list(args))
                sys.stdout.flush()
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
    return ForkedCommand(pid)


def officer_run(environ: Mapping[str, str], log_path: Path, *args: str) -> str:
    """``iblagh-officer ARGS`` to its end; its output, or RuntimeError if it failed."""
    before = log_path.stat().st_size if log_path.exists() else 0
    code = officer_command(environ, log_path, *args).wait(timeout=600)
    with log_path.open("rb") as log:
        log.seek(before)
        output = log.read().decode(errors="replace")
    if code != 0:
        raise RuntimeError(f"iblagh-officer {' '.join(args)} ended with {code}: {output}")
    return output


def kill_group(process: ForkedCommand) -> None:
    """SIGKILL the command and anything it started (its group, or it alone if the kill
    came before it made its group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
