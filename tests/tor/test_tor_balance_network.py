"""OnionBalance in front of two onion backends, on the suite's private Tor network.

What ``iblagh-tor balance-config`` writes is what runs here: the public onion's key as
OnionBalance's frontend key, each backend's torrc block and ``ob_config``. Two backend
tors publish their own onions (each a tiny HTTP server on 127.0.0.1 answering its own
name), OnionBalance (``--is-testnet``) publishes the frontend's descriptor through a
third tor's control socket, and a reporter's tor fetches the frontend address and gets
its answer from one of the backends.

The network votes every 20 s, not the usual 10: OnionBalance's testnet mode derives the
time periods (so the blinded keys) from chutney's 20-second interval.
"""

import contextlib
import os
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.request import build_opener

import pytest

from journalist_app.sync.client import SocksHandler
from tests.tor.network import PrivateTorNetwork
from tor.balance import tor_secret_key_file
from tor.keys import OnionKey
from tor.process import Tor, stop_process_group

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning"),
]

BIN = Path(sys.executable).parent
BACKENDS = ("backend-a", "backend-b")
REACH_TIMEOUT = 180.0
FRONTEND_TIMEOUT = 300.0
RELAYS = 4  # with the 3 authorities, 7 HSDirs
MIN_HSDIRS = 6


@dataclass
class Balanced:
    network: PrivateTorNetwork
    frontend: str  # with .onion
    backends: dict[str, str]  # name -> address with .onion
    reporter: Tor
    onionbalance: subprocess.Popen[bytes]
    onionbalance_log: Path


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "iblagh-tor"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


class _NameHandler(BaseHTTPRequestHandler):
    """Answers every GET with the backend's name: the test sees who served it."""

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def name_server(name: str) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NameHandler)
    server.name = name  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def balanced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balanced]:
    if not (BIN / "onionbalance").exists():
        pytest.skip("onionbalance is not installed (pip install -e '.[dev]')")
    root = tmp_path_factory.mktemp("balance")
    source_env = {"IBLAGH_DATA_DIR": str(root / "source")}
    network = PrivateTorNetwork(root / "net", relays=RELAYS, voting_interval=20)
    with contextlib.ExitStack() as stack:
        cli(source_env, "init", "--no-officer-key")
        frontend = cli(source_env, "address", "public").strip()
        # The backends' keys, in each HiddenServiceDir as tor keeps them, so their
        # addresses are known before their tors start (tor's hostname file then agrees).
        keys = {name: OnionKey.generate() for name in BACKENDS}
        ports = {name: stack.enter_context(name_server(name)) for name in BACKENDS}
        backend_lines: dict[str, list[str]] = {}
        for name, key in keys.items():
            hs_dir = root / f"hs-{name}"
            hs_dir.mkdir(mode=0o700)
            secret = hs_dir / "hs_ed25519_secret_key"
            secret.write_bytes(tor_secret_key_file(key))
            secret.chmod(0o600)
            cli(
                source_env,
                "balance-config",
                *(arg for other in keys.values() for arg in ("--backend", other.service_id)),
                "--backend-hs-dir", f"{hs_dir}/",
                "--backend-target", f"127.0.0.1:{ports[name]}",
            )  # fmt: skip
            generated = root / "source" / "tor" / "onionbalance" / "backend"
            (hs_dir / "ob_config").write_bytes((generated / "ob_config").read_bytes())
            backend_lines[name] = [
                line
                for line in (generated / "torrc").read_text().splitlines()
                if line and not line.startswith("#")
            ]
        config = root / "source" / "tor" / "onionbalance" / "config.yaml"

        stack.callback(network.close)
        network.start()
        backend_tors = {name: network.add_client(name, backend_lines[name]) for name in BACKENDS}
        balancer = network.add_client("balancer")
        reporter = network.add_client("reporter")
        for tor in (*backend_tors.values(), balancer, reporter):
            network.wait_bootstrapped(tor)
        backends = {}
        for name, key in keys.items():
            hostname = (root / f"hs-{name}" / "hostname").read_text().strip()
            assert hostname == key.hostname
            backends[name] = hostname

        # OnionBalance 0.2.4 loops forever (in the thread that receives every event) if
        # the hash ring has 4 HSDirs or fewer, as early consensuses here may: the real
        # network has thousands. Start it once the consensus lists a few more.
        _wait_for_hsdirs(balancer, MIN_HSDIRS, REACH_TIMEOUT)
        control = _control_arguments(root / "net" / "balancer" / "data")
        log_path = root / "onionbalance.log"
        with log_path.open("wb") as log:
            onionbalance = subprocess.Popen(
                [
                    *(str(BIN / "onionbalance"), "--is-testnet", *control),
                    *("-c", str(config), "-v", "info"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        stack.callback(stop_process_group, onionbalance)
        yield Balanced(network, frontend, backends, reporter, onionbalance, log_path)


def test_each_backend_answers_on_its_own_onion(balanced: Balanced) -> None:
    for name, address in balanced.backends.items():
        assert _fetch_until(balanced, f"http://{address}/", REACH_TIMEOUT) == name


def test_the_frontend_address_is_answered_by_a_backend(
    balanced: Balanced, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    answer = _fetch_until(balanced, f"http://{balanced.frontend}/", FRONTEND_TIMEOUT)
    assert answer in BACKENDS
    # The descriptor that answered lists both backends' introduction points.
    assert "from 2 instances" in balanced.onionbalance_log.read_text(errors="replace")
    with capsys.disabled():
        print(
            f"\n[onionbalance] frontend answered by {answer} "
            f"{time.monotonic() - balanced.network.started_at:.1f} s after the network "
            f"started ({time.monotonic() - started:.1f} s of polling)"
        )


def _control_arguments(data_dir: Path) -> list[str]:
    """OnionBalance's way to the tor that launch_tor started: its socket, or its port."""
    socket = data_dir / "control"
    if socket.exists():
        return ["-s", str(socket)]
    # A long path: launch_tor fell back to a loopback port (cookie authentication).
    address = (data_dir / "control-port").read_text(encoding="ascii").strip().split("=", 1)[1]
    host, port = address.rsplit(":", 1)
    return ["-s", "", "-i", host, "-p", port]


def _wait_for_hsdirs(tor: Tor, count: int, timeout: float) -> None:
    """Wait until ``tor``'s consensus lists ``count`` relays with the HSDir flag."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            statuses = tor.controller.get_network_statuses()
            seen = sum(1 for status in statuses if "HSDir" in status.flags)
            if seen >= count:
                return
        time.sleep(1)
    raise TimeoutError(f"the consensus lists {seen} HSDirs, not {count}, after {timeout:.0f} s")


def _fetch_until(balanced: Balanced, url: str, timeout: float) -> str:
    """Fetch ``url`` through the reporter's tor until it answers; the answer's body.

    Between failed tries, NEWNYM empties the client's onion-service state, so a
    descriptor that was missing a moment ago is fetched again rather than remembered
    as missing.
    """
    assert balanced.reporter.socks_port
    browser = build_opener(SocksHandler(("127.0.0.1", balanced.reporter.socks_port)))
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if balanced.onionbalance.poll() is not None:
            pytest.fail("onionbalance exited:\n" + balanced.onionbalance_log.read_text()[-3000:])
        try:
            with browser.open(url, timeout=60) as response:
                return str(response.read().decode())
        except (OSError, urllib.error.URLError) as exc:
            last = exc
        with contextlib.suppress(Exception):
            balanced.reporter.controller.signal("NEWNYM")
        time.sleep(2)
    log = balanced.onionbalance_log.read_text(errors="replace")[-4000:]
    raise TimeoutError(f"{url} did not answer in {timeout:.0f} s: {last}\n{log}")
