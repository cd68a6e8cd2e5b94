"""The public host's onions on a real (private, offline) Tor network on 127.0.0.1.

Built by the suite itself (tests/tor/network.py): three directory authorities, three
relays, the public host's tor launched by ``iblagh-tor serve``, and two clients — the
officer host's, with its client key in ``ClientOnionAuthDir``, and a stranger's.
The public site and the sync listener are the real apps under gunicorn on loopback;
the officer's keys come from ``iblagh-officer keys init``.
"""

import contextlib
import html
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.request import BaseHandler, HTTPCookieProcessor, OpenerDirector, build_opener

import pytest
from nacl.signing import SigningKey

from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from journalist_app.errors import SyncUnreachable
from journalist_app.keys.custody import unlock
from journalist_app.sync.blob_store import LocalBlobStore
from journalist_app.sync.client import SocksHandler, SyncClient
from journalist_app.sync.pull import pull
from tests.support.servers import Server, gunicorn
from tests.tor.network import PrivateTorNetwork
from tor.process import Tor, stop_process_group

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning"),
]

BIN = Path(sys.executable).parent
OFFICER = "nadia"
PASSPHRASE = "a long passphrase for the test officer"
REACH_TIMEOUT = 180.0
SOURCE_CONF = "python:source_app.gunicorn_conf"


@dataclass
class OnionDeployment:
    network: PrivateTorNetwork
    public_onion: str  # with .onion
    sync_onion: str
    public: Server
    source_dir: Path
    officer_env: dict[str, str]
    officer_tor: Tor
    stranger_tor: Tor
    serve_started_at: float
    tor_log: Path
    reachable_after: dict[str, float]


def cli(name: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / name), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def onion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OnionDeployment]:
    root = tmp_path_factory.mktemp("onion")
    source_dir, officer_dir = root / "source", root / "officer"
    source_env = {"IBLAGH_DATA_DIR": str(source_dir)}
    officer_env = {
        "IBLAGH_DATA_DIR": str(officer_dir),
        "IBLAGH_KDF": "fast",
        "IBLAGH_TESTING": "1",
        "IBLAGH_OFFICER_PASSPHRASE": PASSPHRASE,
    }
    network = PrivateTorNetwork(root / "net")
    with contextlib.ExitStack() as stack:
        # Unit keys on the officer host; onion keys on the public host.
        cli("iblagh-officer", officer_env, "keys", "init", "--officer", OFFICER,
            "--public-out", str(source_dir))  # fmt: skip
        cli("iblagh-tor", source_env, "init", "--no-officer-key")
        public_onion = cli("iblagh-tor", source_env, "address", "public").strip()
        sync_onion = cli("iblagh-tor", source_env, "address", "sync").strip()
        # The officer host makes its client key; the public host authorises its public half.
        auth_dir = officer_dir / "onion-auth"
        made = cli("iblagh-tor", {}, "client-key", "--sync-onion", sync_onion,
                   "--out", str(auth_dir / "iblagh-sync.auth_private"))  # fmt: skip
        [public_key] = re.findall(r"--public-key ([A-Z2-7]{52})", made)
        cli("iblagh-tor", source_env, "authorise-officer", "--name", "desk-1",
            "--public-key", public_key)  # fmt: skip

        public = stack.enter_context(
            gunicorn(
                "source_app:create_app()",
                {**source_env, "IBLAGH_ONION_ADDRESS": public_onion},
                root / "public.log",
                config=SOURCE_CONF,
            )
        )
        sync = stack.enter_context(
            gunicorn(
                "source_app:create_sync_app()",
                source_env,
                root / "sync.log",
                config=SOURCE_CONF,
                probe_path="/sync/v1/submissions",
            )
        )

        serve_log = root / "serve.log"
        serve_env = {
            **os.environ,
            **source_env,
            "IBLAGH_TOR_PUBLIC_TARGET": f"127.0.0.1:{public.port}",
            "IBLAGH_TOR_SYNC_TARGET": f"127.0.0.1:{sync.port}",
            "IBLAGH_TOR_TORRC_INCLUDE": str(network.write_include(root / "network.torrc")),
        }
        # Every tor from here on: the network, the public host's, the two clients.
        stack.callback(network.close)
        network.start()
        serve_started_at = time.monotonic()
        with serve_log.open("wb") as log:
            serve = subprocess.Popen(
                [str(BIN / "iblagh-tor"), "serve"],
                env=serve_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        stack.callback(stop_process_group, serve)
        officer_tor = network.add_client("officer", [f'ClientOnionAuthDir "{auth_dir}"'])
        stranger_tor = network.add_client("stranger")
        _wait_for(lambda: "officer hosts authorised" in serve_log.read_text(), serve, serve_log)
        network.wait_bootstrapped(officer_tor)
        network.wait_bootstrapped(stranger_tor)
        run_dir = source_dir / "tor" / "run"
        yield OnionDeployment(
            network=network,
            public_onion=public_onion,
            sync_onion=sync_onion,
            public=public,
            source_dir=source_dir,
            officer_env=officer_env,
            officer_tor=officer_tor,
            stranger_tor=stranger_tor,
            serve_started_at=serve_started_at,
            tor_log=run_dir / "tor.log",
            reachable_after={},
        )


def test_a_reporter_reaches_the_public_onion_and_submits_a_report(
    onion: OnionDeployment, capsys: pytest.CaptureFixture[str]
) -> None:
    reached = _wait_reachable(onion, onion.stranger_tor, f"http://{onion.public_onion}/")
    with capsys.disabled():
        print(
            f"\n[tor] public onion answered {reached:.1f} s after the first tor started "
            f"({time.monotonic() - onion.serve_started_at:.1f} s after 'iblagh-tor serve')"
        )
    browser = _browser(onion.stranger_tor)
    with browser.open(f"http://{onion.public_onion}/report?lang=en", timeout=60) as response:
        page = response.read().decode()
        # Tor Browser ignores Onion-Location on an onion; it is the clearnet site's hint.
        assert response.headers["Onion-Location"].startswith(f"http://{onion.public_onion}/")
    code = _submit_report(browser, f"http://{onion.public_onion}", page, "seen through tor")
    assert re.fullmatch(r"[0-9]{4}( [0-9]{4}){4}", code)
    # The public onion does not serve the sync API.
    with pytest.raises(urllib.error.HTTPError) as missing:
        browser.open(f"http://{onion.public_onion}/sync/v1/submissions", timeout=60)
    assert missing.value.code == 404


def test_the_officer_host_syncs_over_the_authorised_onion(onion: OnionDeployment) -> None:
    _submit_report(_browser(None), onion.public.url, None, "to be synced over the sync onion")
    # The officer host's configuration: the sync onion, through its tor's SOCKS port.
    config = OfficerConfig.from_env(
        {
            **onion.officer_env,
            "IBLAGH_SYNC_URL": f"http://{onion.sync_onion}",
            "IBLAGH_SYNC_SOCKS": f"127.0.0.1:{onion.officer_tor.socks_port}",
        }
    )
    engine = make_engine(config.database_url)
    session = make_session_factory(engine)()
    try:
        keyring = unlock(session, OFFICER, PASSPHRASE, config.wrap_params)
        assert keyring.sync_key is not None
        client = SyncClient.from_config(config, keyring.sync_key)
        _wait_until(lambda: client.fetch_recipient_set() != b"", "the sync onion")
        result = pull(session, client, LocalBlobStore(config.data_dir))
    finally:
        session.close()
        engine.dispose()
    assert result.new >= 1 and result.failed == 0
    assert result.acknowledged == result.new
    blobs = [p for p in (onion.source_dir / "blobs").rglob("*") if p.is_file()]
    assert blobs == [], "acknowledged ciphertext is deleted from the public host"
    # The sync onion serves nothing but the sync API.
    with pytest.raises(urllib.error.HTTPError) as missing:
        _browser(onion.officer_tor).open(f"http://{onion.sync_onion}/report", timeout=60)
    assert missing.value.code == 404


def test_a_client_without_the_key_cannot_reach_the_sync_onion(onion: OnionDeployment) -> None:
    # The stranger's tor works: it reaches the public onion...
    _wait_reachable(onion, onion.stranger_tor, f"http://{onion.public_onion}/")
    stranger = SyncClient(
        f"http://{onion.sync_onion}",
        SigningKey.generate(),
        timeout=60,
        socks_proxy=f"127.0.0.1:{onion.stranger_tor.socks_port}",
    )
    # ...but tor itself turns it away from the sync onion: the descriptor is encrypted
    # to the officer hosts' keys (tor's extended SOCKS error F4).
    deadline = time.monotonic() + REACH_TIMEOUT
    while True:
        try:
            stranger.fetch_recipient_set()
        except SyncUnreachable as exc:
            if "requires client authorisation" in str(exc):
                break
            assert time.monotonic() < deadline, f"never refused for client auth: {exc}"
            time.sleep(1)
        else:
            pytest.fail("a client without the key reached the sync onion")


def test_tor_logs_hold_no_onion_address(onion: OnionDeployment) -> None:
    _wait_reachable(onion, onion.stranger_tor, f"http://{onion.public_onion}/")
    logs = [onion.tor_log, *onion.network.log_paths()]
    assert onion.tor_log.exists()
    for log in logs:
        text = log.read_text(errors="replace")
        for address in (onion.public_onion, onion.sync_onion):
            assert address[:-6] not in text, f"{log} names {address}"


# --- helpers ------------------------------------------------------------------------------


def _browser(tor: Tor | None) -> OpenerDirector:
    handlers: list[BaseHandler] = [HTTPCookieProcessor(CookieJar())]
    if tor is not None:
        assert tor.socks_port
        handlers.append(SocksHandler(("127.0.0.1", tor.socks_port)))
    return build_opener(*handlers)


def _submit_report(
    browser: OpenerDirector, base_url: str, form_page: str | None, description: str
) -> str:
    """Fill the report form as a reporter would (anonymous) and return the receipt code."""
    url = f"{base_url}/report?lang=en"
    if form_page is None:
        with browser.open(url, timeout=60) as response:
            form_page = response.read().decode()
    data = urllib.parse.urlencode(_report_fields(form_page, description)).encode()
    with browser.open(url, data=data, timeout=60) as response:
        receipt = response.read().decode()
    match = re.search(r"<bdi>([0-9 ]{24})</bdi>", receipt)
    assert match, "no receipt code on the page"
    return match.group(1)


def _report_fields(page: str, description: str) -> dict[str, str]:
    """Every field of the form as the page offers it: first category, anonymous, agreed.

    Read from the page rather than listed here, so the form can grow without this test
    following it.
    """
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input\b[^>]*>", page):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        name, kind = attributes.get("name"), attributes.get("type", "text")
        if not name or kind == "file":
            continue
        value = html.unescape(attributes.get("value", ""))
        if kind == "radio":
            if name not in fields or value == "anonymous":
                fields[name] = value
        elif kind == "checkbox":
            fields[name] = value or "on"
        else:
            fields.setdefault(name, value)
    for name in re.findall(r'<textarea\b[^>]*name="([^"]+)"', page):
        fields[name] = ""
    fields["description"] = description
    if "urls" in fields:
        fields["urls"] = "https://example.org/post/1"
    return fields


def _wait_reachable(onion: OnionDeployment, tor: Tor, url: str) -> float:
    """Poll ``url`` through ``tor`` until it answers; seconds since the network started."""
    if url in onion.reachable_after:
        return onion.reachable_after[url]
    browser = _browser(tor)

    def answers() -> bool:
        with browser.open(url, timeout=60) as response:
            return bool(response.status == 200)

    _wait_until(answers, url)
    onion.reachable_after[url] = time.monotonic() - onion.network.started_at
    return onion.reachable_after[url]


def _wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + REACH_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, SyncUnreachable) as exc:
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{what} did not answer within {REACH_TIMEOUT:.0f} s: {last}")


def _wait_for(ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError("iblagh-tor serve did not publish:\n" + log.read_text())
        time.sleep(0.1)
