"""The officer host's sync client through tor's SOCKS port, against a stand-in SOCKS5 server.

The stand-in records what the client asks for (so we see the ``.onion`` name reach the
proxy unresolved) and can answer with tor's extended error codes. The real thing — tor,
a client-authorised onion, a real sync — is in test_tor_network.py.
"""

import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from journalist_app.config import ConfigError, OfficerConfig
from journalist_app.errors import SyncUnreachable
from journalist_app.sync.client import SyncClient
from tests.support.servers import free_port

ONION = "p5gtminu3ocf24g4npkamm5cyibvxxgpbulp5trbr2pvebmnzl2df5id.onion"
RECIPIENT_SET = b'{"signed": "recipient set"}'


@dataclass
class SocksStandIn:
    """A SOCKS5 server on 127.0.0.1 that sends every CONNECT to one loopback port."""

    target_port: int
    reply_code: int = 0
    requests: list[tuple[int, str, int]] = field(default_factory=list)
    port: int = 0


def _serve_socks(stand_in: SocksStandIn) -> socketserver.ThreadingTCPServer:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            client: socket.socket = self.request
            _version, count = client.recv(2)
            client.recv(count)
            client.sendall(b"\x05\x00")
            _, _command, _, address_type = client.recv(4)
            if address_type == 3:
                host = client.recv(client.recv(1)[0]).decode()
            else:
                host = socket.inet_ntoa(client.recv(4))
            port = int.from_bytes(client.recv(2), "big")
            stand_in.requests.append((address_type, host, port))
            reply = bytes([5, stand_in.reply_code, 0, 1, 0, 0, 0, 0, 0, 0])
            if stand_in.reply_code:
                client.sendall(reply)
                return
            upstream = socket.create_connection(("127.0.0.1", stand_in.target_port))
            client.sendall(reply)
            _pipe(client, upstream)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    stand_in.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def _pipe(a: socket.socket, b: socket.socket) -> None:
    def forward(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    threading.Thread(target=forward, args=(b, a), daemon=True).start()
    forward(a, b)


@pytest.fixture
def sync_listener() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/sync/v1/recipient-set" else 404)
            self.send_header("Content-Length", str(len(RECIPIENT_SET)))
            self.end_headers()
            self.wfile.write(RECIPIENT_SET)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def socks(sync_listener: int) -> Iterator[SocksStandIn]:
    stand_in = SocksStandIn(target_port=sync_listener)
    server = _serve_socks(stand_in)
    yield stand_in
    server.shutdown()
    server.server_close()


def test_the_sync_client_sends_the_onion_name_to_tor_unresolved(socks: SocksStandIn) -> None:
    client = SyncClient(
        f"http://{ONION}", SigningKey.generate(), timeout=5, socks_proxy=f"127.0.0.1:{socks.port}"
    )
    assert client.fetch_recipient_set() == RECIPIENT_SET
    assert socks.requests == [(3, ONION, 80)], "a domain-name CONNECT: tor resolves .onion"


@pytest.mark.parametrize(
    ("code", "explanation"),
    [
        (0xF4, "ClientOnionAuthDir"),
        (0xF5, "not accepted: check the .auth_private file"),
        (0xF0, "no descriptor"),
        (0x05, "refused"),
    ],
)
def test_tors_socks_refusals_are_explained(
    socks: SocksStandIn, code: int, explanation: str
) -> None:
    socks.reply_code = code
    client = SyncClient(
        f"http://{ONION}", SigningKey.generate(), timeout=5, socks_proxy=f"127.0.0.1:{socks.port}"
    )
    with pytest.raises(SyncUnreachable, match="cannot reach the public host") as refused:
        client.fetch_recipient_set()
    assert explanation in str(refused.value)


def test_no_tor_on_the_socks_port_is_unreachable() -> None:
    client = SyncClient(
        f"http://{ONION}", SigningKey.generate(), timeout=5, socks_proxy=f"127.0.0.1:{free_port()}"
    )
    with pytest.raises(SyncUnreachable, match="cannot reach the public host"):
        client.fetch_recipient_set()


def test_an_onion_url_is_never_resolved_outside_tor() -> None:
    with pytest.raises(ValueError, match="SOCKS"):
        SyncClient(f"http://{ONION}", SigningKey.generate())


def test_without_socks_the_sync_client_stays_on_plain_loopback(
    sync_listener: int, tmp_path: Path
) -> None:
    config = OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path)})
    assert config.sync_url == "http://127.0.0.1:8081" and config.sync_socks == ""
    client = SyncClient(f"http://127.0.0.1:{sync_listener}", SigningKey.generate(), timeout=5)
    assert client.fetch_recipient_set() == RECIPIENT_SET


def test_the_officer_config_reads_the_socks_port(tmp_path: Path) -> None:
    config = OfficerConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(tmp_path),
            "IBLAGH_SYNC_URL": f"http://{ONION}",
            "IBLAGH_SYNC_SOCKS": "127.0.0.1:9050",
        }
    )
    assert (config.sync_url, config.sync_socks) == (f"http://{ONION}", "127.0.0.1:9050")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"IBLAGH_SYNC_SOCKS": "9050"}, "HOST:PORT"),
        ({"IBLAGH_SYNC_SOCKS": "socks5://127.0.0.1:9050"}, "HOST:PORT"),
        (
            {"IBLAGH_SYNC_SOCKS": "127.0.0.1:9050", "IBLAGH_SYNC_URL": "https://x.example"},
            "http://<address>.onion",
        ),
        ({"IBLAGH_SYNC_URL": f"http://{ONION}"}, "set IBLAGH_SYNC_SOCKS"),
    ],
)
def test_a_bad_socks_setting_is_refused(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        OfficerConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path), **environ})


def test_the_client_built_from_the_config_goes_through_tor(
    socks: SocksStandIn, tmp_path: Path
) -> None:
    config = OfficerConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(tmp_path),
            "IBLAGH_SYNC_URL": f"http://{ONION}",
            "IBLAGH_SYNC_SOCKS": f"127.0.0.1:{socks.port}",
        }
    )
    client = SyncClient.from_config(config, SigningKey.generate())
    assert client.fetch_recipient_set() == RECIPIENT_SET
    assert socks.requests == [(3, ONION, 80)]
