"""``make run`` (scripts/run-demo.sh): loopback by default, an onion service when asked.

The onion case runs with ``IBLAGH_TOR_DISABLE_NETWORK=1``: tor publishes the services
but contacts nobody, so the test stays on 127.0.0.1.
"""

import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run-demo.sh"
BANNER_END = "Stop: Ctrl-C"


@contextmanager
def demo(var: Path, **extra: str) -> Iterator[tuple[str, dict[str, int]]]:
    """Run the demo until its banner is printed; yield the banner and the ports."""
    ports = {"public": free_port(), "sync": free_port(), "officer": free_port()}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IBLAGH_")},
        "IBLAGH_VAR": str(var),
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_PUBLIC_PORT": str(ports["public"]),
        "IBLAGH_SYNC_PORT": str(ports["sync"]),
        "IBLAGH_OFFICER_PORT": str(ports["officer"]),
        **extra,
    }
    output = var.parent / f"{var.name}-demo.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["bash", str(SCRIPT)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while BANNER_END not in output.read_text(errors="replace"):
            assert process.poll() is None, output.read_text(errors="replace")
            assert time.monotonic() < deadline, output.read_text(errors="replace")
            time.sleep(0.1)
        yield output.read_text(errors="replace"), ports
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Nothing of the group may outlive the demo (gunicorn, iblagh-tor, tor).
        deadline = time.monotonic() + 10
        while _group_alive(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _group_alive(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("a process of the demo outlived it")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _headers(port: int) -> dict[str, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
        return dict(response.headers)


def test_make_run_stays_on_loopback_by_default(tmp_path: Path) -> None:
    var = tmp_path / "var"
    with demo(var) as (banner, ports):
        assert ".onion" not in banner
        assert "Onion-Location" not in _headers(ports["public"])
    assert not (var / "source" / "tor").exists(), "no onion key is made unless asked"


def test_make_run_with_iblagh_onion_publishes_the_public_site(tmp_path: Path) -> None:
    var = tmp_path / "var"
    with demo(var, IBLAGH_ONION="1", IBLAGH_TOR_DISABLE_NETWORK="1") as (banner, ports):
        [public] = re.findall(r"Onion site \(Tor Browser\): http://([a-z2-7]{56}\.onion)/", banner)
        [sync] = re.findall(r"Sync onion \(officer\):\s+http://([a-z2-7]{56}\.onion)/", banner)
        # The clearnet site names its onion (source_app sends Onion-Location).
        assert _headers(ports["public"])["Onion-Location"] == f"http://{public}/"
        log = (var / "log" / "onion.log").read_text()
        assert "PoW defence on the public onion: on" in log
        assert "officer hosts authorised for the sync onion: 1" in log
        auth = var / "officer" / "tor-auth" / "iblagh-sync.auth_private"
        assert auth.read_text().startswith(sync.removesuffix(".onion") + ":descriptor:x25519:")
        assert auth.stat().st_mode & 0o777 == 0o600
        key = var / "source" / "tor" / "public-onion.key"
        assert key.stat().st_mode & 0o777 == 0o600
    # A second start keeps the same address (the key is kept under var/source/tor/).
    with demo(var, IBLAGH_ONION="1", IBLAGH_TOR_DISABLE_NETWORK="1") as (again, _):
        assert f"http://{public}/" in again
