"""``iblagh-tor``, as an operator types it: one line per error, no traceback."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tor.cli import main
from tor.client_auth import (
    AUTH_PRIVATE_SUFFIX,
    ClientPrivateKey,
    ClientPublicKey,
    authorised_clients,
)
from tor.config import TorConfig
from tor.keys import is_service_id

pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")
IBLAGH_TOR = str(Path(sys.executable).parent / "iblagh-tor")
ONION_URL = re.compile(r"http://([a-z2-7]{56})\.onion/")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "source"
    monkeypatch.setenv("IBLAGH_DATA_DIR", str(path))
    for name in list(os.environ):
        if name.startswith("IBLAGH_TOR_"):
            monkeypatch.delenv(name)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_init_prints_both_addresses_and_the_client_key_for_the_officer_host(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "init")
    assert status == 0
    public, sync = ONION_URL.findall(out)
    assert is_service_id(public) and is_service_id(sync) and public != sync
    [line] = re.findall(rf"^  ({sync}:descriptor:x25519:[A-Z2-7]{{52}})$", out, re.MULTILINE)
    assert "ClientOnionAuthDir" in out and "shown ONCE" in out
    # The public host keeps only the public half of the officer host's key.
    config = TorConfig.from_env()
    [(name, stored)] = authorised_clients(config.clients_dir).items()
    assert name == "officer"
    private_b32 = line.rsplit(":", 1)[1]
    assert private_b32 not in "".join(p.read_text() for p in config.tor_dir.rglob("*.auth"))
    assert ClientPrivateKey.from_base32(private_b32).public == stored


def test_init_twice_keeps_the_addresses_and_makes_no_second_client_key(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first, _ = run(capsys, "init")
    status, second, _ = run(capsys, "init")
    assert status == 0
    assert ONION_URL.findall(first) == ONION_URL.findall(second)
    assert "already" in second and "descriptor:x25519" not in second
    assert len(authorised_clients(TorConfig.from_env().clients_dir)) == 1


def test_address_prints_one_bare_address_for_scripts(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, init_out, _ = run(capsys, "init", "--no-officer-key")
    public, sync = ONION_URL.findall(init_out)
    assert run(capsys, "address", "public") == (0, f"{public}.onion\n", "")
    assert run(capsys, "address", "sync") == (0, f"{sync}.onion\n", "")


def test_the_officer_host_makes_its_own_key_and_the_public_host_authorises_it(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, init_out, _ = run(capsys, "init", "--no-officer-key")
    assert "client-key --sync-onion" in init_out
    sync = ONION_URL.findall(init_out)[1]
    auth_file = tmp_path / "officer" / "onion-auth" / f"iblagh{AUTH_PRIVATE_SUFFIX}"

    status, out, _ = run(
        capsys, "client-key", "--sync-onion", f"{sync}.onion", "--out", str(auth_file)
    )
    assert status == 0
    [public_key] = re.findall(r"--public-key ([A-Z2-7]{52})", out)
    assert auth_file.read_text().startswith(f"{sync}:descriptor:x25519:")
    assert auth_file.stat().st_mode & 0o777 == 0o600

    status, out, _ = run(
        capsys, "authorise-officer", "--name", "desk-2", "--public-key", public_key
    )
    assert status == 0 and "restart" in out
    status, out, _ = run(capsys, "show")
    assert f"desk-2: {public_key}" in out
    assert authorised_clients(TorConfig.from_env().clients_dir) == {
        "desk-2": ClientPublicKey.from_base32(public_key)
    }

    assert run(capsys, "revoke-officer", "--name", "desk-2")[0] == 0
    status, _, err = run(capsys, "revoke-officer", "--name", "desk-2")
    assert status == 1 and "no officer host named 'desk-2'" in err


def test_authorise_officer_without_a_key_prints_a_new_private_line_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init")
    status, out, _ = run(capsys, "authorise-officer", "--name", "desk-3")
    assert status == 0
    assert re.search(r"^  [a-z2-7]{56}:descriptor:x25519:[A-Z2-7]{52}$", out, re.MULTILINE)
    status, _, err = run(capsys, "authorise-officer", "--name", "desk-3")
    assert status == 1 and "already authorised" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show"], "run 'iblagh-tor init'"),
        (["serve"], "run 'iblagh-tor init'"),
        (["authorise-officer", "--name", "x", "--public-key", "AAAA"], "iblagh-tor init"),
    ],
)
def test_commands_before_init_say_what_to_do(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert message in err and "Traceback" not in err


def test_a_bad_client_key_and_a_bad_address_are_one_line_errors(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init")
    status, _, err = run(capsys, "authorise-officer", "--name", "x", "--public-key", "not-a-key")
    assert status == 1 and "52 base32" in err
    out_file = tmp_path / "a.auth_private"
    status, _, err = run(
        capsys, "client-key", "--sync-onion", "example.onion", "--out", str(out_file)
    )
    assert status == 1 and "not a v3 onion address" in err
    assert not out_file.exists()


def test_a_loose_key_file_is_named_with_the_fix(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init")
    key = TorConfig.from_env().public_key_path
    key.chmod(0o604)
    status, _, err = run(capsys, "show")
    assert status == 1
    assert f"chmod 600 {key}" in err and "Traceback" not in err


def test_a_missing_tor_is_one_line_with_the_package(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "init")
    monkeypatch.setenv("IBLAGH_TOR_BINARY", "/nonexistent/tor")
    status, _, err = run(capsys, "serve")
    assert status == 1
    assert "tor is not installed" in err and "apt-get install tor" in err


def test_an_unreachable_control_port_is_one_line(
    data_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run(capsys, "init")
    monkeypatch.setenv("IBLAGH_TOR_CONTROL", f"unix:{data_dir / 'no-tor-here'}")
    status, _, err = run(capsys, "serve")
    assert status == 1
    assert "cannot reach tor's control port" in err and "Traceback" not in err


def test_serve_publishes_both_onions_until_sigterm_and_leaves_no_tor(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init")
    env = {**os.environ, "IBLAGH_TOR_DISABLE_NETWORK": "1"}
    process = subprocess.Popen(
        [IBLAGH_TOR, "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if line.startswith("officer hosts authorised"):
                break
        output = "".join(lines)
        assert len(ONION_URL.findall(output)) == 2, output
        assert "PoW defence on the public onion: on (queue rate 250, burst 2500)" in output
        assert "officer hosts authorised for the sync onion: 1" in output
        tor_pid = int((TorConfig.from_env().launched_dir / "data" / "pid").read_text())
        os.kill(tor_pid, 0)
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
        assert process.returncode == 0, rest
        assert "withdrawn" in rest
        deadline = time.monotonic() + 10
        while _running(tor_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(tor_pid), "the launched tor outlived iblagh-tor serve"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running: tor is not our child, so only its status can tell.
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return status != "Z"
