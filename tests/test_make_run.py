"""`make run` fails loudly (issue 10, item 12): a port already taken or an app that dies at
start ends scripts/run-demo.sh with a non-zero status and a message that says what to do,
instead of a banner over another program's port."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT, free_port

RUN_DEMO = REPO_ROOT / "scripts" / "run-demo.sh"


def _environ(var: Path, ports: dict[str, int], **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "IBLAGH_VAR": str(var),
        **{f"IBLAGH_{name}_PORT": str(port) for name, port in ports.items()},
        "IBLAGH_ONION": "0",
        **extra,
    }


def _run(environ: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RUN_DEMO)],
        cwd=REPO_ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        start_new_session=True,
    )


@pytest.mark.parametrize("taken", ["PUBLIC", "SYNC", "OFFICER"])
def test_a_port_already_taken_stops_make_run_naming_the_port_and_its_variable(
    tmp_path: Path, taken: str
) -> None:
    ports = {name: free_port() for name in ("PUBLIC", "SYNC", "OFFICER")}
    var = tmp_path / "var"
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", ports[taken]))
        other_program.listen()
        result = _run(_environ(var, ports), timeout=30)
    assert result.returncode != 0
    assert f"port {ports[taken]} on 127.0.0.1 is already in use" in result.stderr
    assert f"IBLAGH_{taken}_PORT=" in result.stderr
    assert "Iblagh is running" not in result.stdout
    assert not var.exists(), "refused before anything was made"


@pytest.mark.slow
def test_an_app_that_dies_at_start_stops_make_run_with_its_log(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("PUBLIC", "SYNC", "OFFICER")}
    # gunicorn reads its own variable: every app fails to start, after demo-init.
    environ = _environ(tmp_path / "var", ports, GUNICORN_CMD_ARGS="--worker-class no.such.Worker")
    result = _run(environ, timeout=180)
    assert result.returncode != 0, result.stdout
    assert "app stopped at start" in result.stderr
    assert "public.log" in result.stderr
    assert "Iblagh is running" not in result.stdout
