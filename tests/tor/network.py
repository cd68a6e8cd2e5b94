"""A private Tor network on 127.0.0.1, built from nothing by the test suite.

Three directory authorities (keys from ``tor-gencert``), relays, and any number of
clients, all with ``TestingTorNetwork 1`` and short voting intervals, so an onion
service answers within seconds, offline. Every torrc names its own ``DirAuthority``
lines (which stops tor from using the real authorities) and ``UseDefaultFallbackDirs
0``; clients also refuse any address outside 127.0.0.0/8 (``ReachableAddresses``).
``check_local_only`` re-reads each torrc before its tor starts.

Every tor is launched through ``tor.process.launch_tor`` — the launcher the public
host uses — in its own process group, owned by this process (it exits if we die) and
stopped by :meth:`PrivateTorNetwork.close`, which fixtures call in a ``finally``.
"""

import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import free_port
from tor.process import Tor, find_tor, launch_tor

LOOPBACK = "127.0.0.1"
BOOTSTRAP_TIMEOUT = 180.0

# Settings every node of the network shares (client, relay or authority).
COMMON_LINES = (
    "TestingTorNetwork 1",
    "UseDefaultFallbackDirs 0",
    "AssumeReachable 1",
    "PathsNeededToBuildCircuits 0.25",
    "ShutdownWaitLength 0",
    "ClientUseIPv6 0",
)
# Clients (and onion services) never dial anything but loopback.
CLIENT_LINES = ("ReachableAddresses accept 127.0.0.0/8:*, reject *:*",)
AUTHORITY_LINES = (
    "AuthoritativeDirectory 1",
    "V3AuthoritativeDirectory 1",
    "TestingV3AuthInitialVotingInterval 5",
    "TestingV3AuthInitialVoteDelay 2",
    "TestingV3AuthInitialDistDelay 2",
    "V3AuthVoteDelay 2",
    "V3AuthDistDelay 2",
    "TestingDirAuthVoteExit *",
    "TestingDirAuthVoteGuard *",
    "TestingDirAuthVoteHSDir *",
)
# Seconds between consensuses once the first is out. OnionBalance's --is-testnet mode
# assumes chutney's 20 (its time periods are derived from it): its networks use that.
VOTING_INTERVAL = 10


@dataclass(frozen=True)
class Authority:
    nickname: str
    run_dir: Path
    or_port: int
    dir_port: int
    v3ident: str
    fingerprint: str

    @property
    def dir_authority_line(self) -> str:
        return (
            f"DirAuthority {self.nickname} orport={self.or_port} no-v2 "
            f"v3ident={self.v3ident} {LOOPBACK}:{self.dir_port} {self.fingerprint}"
        )


class PrivateTorNetwork:
    """Authorities + relays + clients on 127.0.0.1; ``close()`` stops every tor."""

    def __init__(
        self,
        root: Path,
        *,
        authorities: int = 3,
        relays: int = 3,
        voting_interval: int = VOTING_INTERVAL,
    ) -> None:
        self.root = root
        self.voting_interval = voting_interval
        self.tor_binary = find_tor("tor")
        self.authorities = [self._make_authority(i) for i in range(authorities)]
        self.relay_count = relays
        self.nodes: dict[str, Tor] = {}
        self.started_at = 0.0

    # --- configuration ------------------------------------------------------------------

    def network_lines(self) -> list[str]:
        """What any tor needs to join this network and no other."""
        return [*COMMON_LINES, *(a.dir_authority_line for a in self.authorities)]

    def client_lines(self) -> list[str]:
        return [*self.network_lines(), *CLIENT_LINES]

    def write_include(self, path: Path) -> Path:
        """A torrc fragment for a tor launched elsewhere (``IBLAGH_TOR_TORRC_INCLUDE``)."""
        path.write_text("\n".join(self.client_lines()) + "\n", encoding="utf-8")
        check_local_only(path.read_text(encoding="utf-8"))
        return path

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Launch the authorities and the relays (returns at once; see ``wait_ready``)."""
        self.started_at = time.monotonic()
        for authority in self.authorities:
            self._launch(
                authority.nickname,
                authority.run_dir,
                [
                    f"Nickname {authority.nickname}",
                    f"Address {LOOPBACK}",
                    f"ORPort {LOOPBACK}:{authority.or_port}",
                    f"DirPort {LOOPBACK}:{authority.dir_port}",
                    f"ContactInfo {authority.nickname}@iblagh.invalid",
                    "ExitPolicy reject *:*",
                    *AUTHORITY_LINES,
                    f"V3AuthVotingInterval {self.voting_interval}",
                    *self.network_lines(),
                ],
            )
        for index in range(self.relay_count):
            nickname = f"relay{index}"
            self._launch(
                nickname,
                self.root / nickname,
                [
                    f"Nickname {nickname}",
                    f"Address {LOOPBACK}",
                    f"ORPort {LOOPBACK}:{free_port()}",
                    f"ContactInfo {nickname}@iblagh.invalid",
                    "ExitPolicy reject *:*",
                    *self.network_lines(),
                ],
            )

    def add_client(self, name: str, extra_lines: Sequence[str] = ()) -> Tor:
        """A client with a SOCKS port (extended SOCKS errors on) on 127.0.0.1."""
        socks = f"{LOOPBACK}:{free_port()} ExtendedErrors"
        return self._launch(
            name, self.root / name, [*self.client_lines(), *extra_lines], socks_port=socks
        )

    def wait_bootstrapped(self, tor: Tor, timeout: float = BOOTSTRAP_TIMEOUT) -> float:
        """Wait until ``tor`` reports 100 % bootstrapped; returns seconds since start."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not tor.alive():
                raise RuntimeError("a tor of the test network died:\n" + tor.log_tail(30))
            phase = tor.controller.get_info("status/bootstrap-phase", "")
            if "PROGRESS=100" in phase:
                return time.monotonic() - self.started_at
            time.sleep(0.25)
        raise TimeoutError(f"tor did not bootstrap in {timeout:.0f} s:\n" + tor.log_tail(30))

    def close(self) -> None:
        """Stop every tor, clients first; safe to call twice."""
        for name in reversed(list(self.nodes)):
            self.nodes.pop(name).close()

    def log_paths(self) -> list[Path]:
        return sorted(self.root.glob("*/tor.log"))

    # --- internals ----------------------------------------------------------------------

    def _make_authority(self, index: int) -> Authority:
        nickname = f"auth{index}"
        run_dir = self.root / nickname
        keys = run_dir / "data" / "keys"
        keys.mkdir(mode=0o700, parents=True)
        (run_dir / "data").chmod(0o700)
        run_dir.chmod(0o700)
        dir_port, or_port = free_port(), free_port()
        subprocess.run(
            [
                "tor-gencert",
                "--create-identity-key",
                "-m",
                "12",
                "-a",
                f"{LOOPBACK}:{dir_port}",
                "-i",
                str(keys / "authority_identity_key"),
                "-s",
                str(keys / "authority_signing_key"),
                "-c",
                str(keys / "authority_certificate"),
                "--passphrase-fd",
                "0",
            ],
            input=b"\n",
            check=True,
            capture_output=True,
            timeout=60,
        )
        certificate = (keys / "authority_certificate").read_text(encoding="ascii")
        match = re.search(r"^fingerprint ([0-9A-F]{40})$", certificate, re.MULTILINE)
        assert match, "tor-gencert wrote no fingerprint"
        # The relay identity key, made now so the DirAuthority lines can name it.
        empty = run_dir / "empty-torrc"
        empty.write_text("")
        subprocess.run(
            [
                self.tor_binary,
                "--defaults-torrc",
                str(empty),
                "-f",
                str(empty),
                "--list-fingerprint",
                "--DataDirectory",
                str(run_dir / "data"),
                "--ORPort",
                f"{LOOPBACK}:{or_port}",
                "--Nickname",
                nickname,
                "--quiet",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        fingerprint = (run_dir / "data" / "fingerprint").read_text(encoding="ascii").split()[1]
        return Authority(nickname, run_dir, or_port, dir_port, match.group(1), fingerprint)

    def _launch(self, name: str, run_dir: Path, lines: list[str], socks_port: int | str = 0) -> Tor:
        check_local_only("\n".join(lines))
        tor = launch_tor(run_dir, extra_lines=lines, socks_port=socks_port)
        self.nodes[name] = tor
        check_local_only((run_dir / "torrc").read_text(encoding="utf-8"))
        return tor


_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def check_local_only(torrc: str) -> None:
    """Refuse a torrc that could reach the real Tor network or any non-loopback address."""
    lines = [line.strip() for line in torrc.splitlines()]
    authorities = [line for line in lines if line.startswith("DirAuthority ")]
    assert len(authorities) == 3, "every torrc names exactly our three authorities"
    assert "UseDefaultFallbackDirs 0" in lines
    assert "TestingTorNetwork 1" in lines
    for forbidden in ("FallbackDir ", "AlternateDirAuthority", "Bridge ", "UseBridges 1"):
        assert not any(line.startswith(forbidden) for line in lines), forbidden
    for address in _IPV4.findall(torrc):
        assert address == LOOPBACK or address.startswith("127."), address
