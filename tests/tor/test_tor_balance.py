"""``iblagh-tor balance-config``: OnionBalance's files, as OnionBalance and tor read them.

Fast: no network. OnionBalance running on the private Tor network is in
test_tor_balance_network.py.
"""

import os
import re
from pathlib import Path

import pytest
import yaml

from tor.balance import MAX_BACKENDS, TOR_SECRET_KEY_HEADER
from tor.cli import main
from tor.client_auth import ClientPrivateKey, authorise_client
from tor.config import TorConfig
from tor.host import init_keys, publish_public_host
from tor.keys import OnionKey, load_onion_key
from tor.onion import published_service_ids
from tor.process import open_tor

pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")


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


def backend_address() -> str:
    return OnionKey.generate().service_id


def test_the_config_names_the_public_onion_key_and_every_backend(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--no-officer-key")
    public = load_onion_key(TorConfig.from_env().public_key_path)
    first, second, third = backend_address(), backend_address(), backend_address()
    hostname = tmp_path / "replica-c-hostname"
    hostname.write_text(f"{third}.onion\n")

    status, out, err = run(
        capsys,
        "balance-config",
        "--backend", f"{first}.onion",
        "--backend", f"http://{second.upper()}.onion/",
        "--backend-hostname", str(hostname),
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert f"http://{public.service_id}.onion/" in out

    folder = TorConfig.from_env().balance_dir
    config = yaml.safe_load((folder / "config.yaml").read_text())
    [service] = config["services"]
    assert service["key"] == f"{public.service_id}.key"  # relative to config.yaml
    assert [i["address"] for i in service["instances"]] == [
        f"{first}.onion",
        f"{second}.onion",
        f"{third}.onion",
    ]
    # tor's own secret-key format, holding the public onion's key: same address.
    key_file = folder / service["key"]
    assert key_file.read_bytes() == TOR_SECRET_KEY_HEADER + public.expanded
    assert len(key_file.read_bytes()) == 96
    for private in (folder, folder / "backend"):
        assert private.stat().st_mode & 0o777 == 0o700
    for path in (key_file, folder / "config.yaml", folder / "backend" / "ob_config"):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_each_backend_gets_its_torrc_block_and_ob_config(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "init", "--no-officer-key")
    frontend = load_onion_key(TorConfig.from_env().public_key_path).service_id
    status, _, _ = run(
        capsys,
        "balance-config",
        "--backend", backend_address(),
        "--backend-hs-dir", "/var/lib/tor/replica/",
        "--backend-target", "127.0.0.1:8090",
    )  # fmt: skip
    assert status == 0
    backend = TorConfig.from_env().balance_dir / "backend"
    assert (backend / "ob_config").read_text() == f"MasterOnionAddress {frontend}.onion\n"
    lines = [
        line for line in (backend / "torrc").read_text().splitlines() if not line.startswith("#")
    ]
    assert lines == [
        "HiddenServiceDir /var/lib/tor/replica/",
        "HiddenServicePort 80 127.0.0.1:8090",
        "HiddenServiceOnionBalanceInstance 1",
    ]


def test_running_again_keeps_the_key_and_rewrites_the_backends(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = backend_address(), backend_address()
    status, out, _ = run(capsys, "balance-config", "--backend", first)
    assert status == 0 and "public onion key created" in out and "(written, 0600)" in out
    folder = TorConfig.from_env().balance_dir
    [key_file] = folder.glob("*.key")
    key = key_file.read_bytes()

    status, out, _ = run(capsys, "balance-config", "--backend", first, "--backend", second)
    assert status == 0 and "(unchanged, 0600)" in out
    assert key_file.read_bytes() == key
    assert re.findall(r"address: ([a-z2-7]{56})\.onion", (folder / "config.yaml").read_text()) == [
        first,
        second,
    ]


def test_onionbalance_loads_the_key_as_the_public_onion(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tor_ed25519 = pytest.importorskip("onionbalance.hs_v3.tor_ed25519")
    from cryptography.hazmat.primitives import serialization
    from stem.descriptor.hidden_service import HiddenServiceDescriptorV3

    run(capsys, "balance-config", "--backend", backend_address())
    public = load_onion_key(TorConfig.from_env().public_key_path)
    key_file = TorConfig.from_env().balance_dir / f"{public.service_id}.key"
    loaded = tor_ed25519.load_tor_key_from_disk(key_file.read_bytes())
    raw = loaded.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    )
    assert HiddenServiceDescriptorV3.address_from_identity_key(raw) == public.hostname


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "no backend"),
        (["--backend", "example.onion"], "not a v3 onion address"),
        (["--backend", "x" * 56], "not a v3 onion address"),
        (["--backend", "same"], "given twice"),
        (["--backend", "frontend"], "is the frontend"),
        (["--backends", str(MAX_BACKENDS + 1)], f"at most {MAX_BACKENDS}"),
        (["--backend", "ok", "--backend-target", "10.0.0.5:80"], "loopback"),
        (["--backend", "ok", "--backend-hs-dir", "relative/dir"], "absolute path"),
        (["--backend-hostname", "/nonexistent/hostname"], "cannot read the hostname file"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    run(capsys, "init", "--no-officer-key")
    frontend = load_onion_key(TorConfig.from_env().public_key_path).service_id
    same = backend_address()
    arguments: list[str] = []
    for index, value in enumerate(argv):
        if argv[index - 1 : index] == ["--backends"]:
            for _ in range(int(value)):
                arguments += ["--backend", backend_address()]
        elif value == "--backends":
            continue
        elif value == "same":
            arguments += [same, "--backend", same]
        elif value == "frontend":
            arguments.append(f"{frontend}.onion")
        elif value == "ok":
            arguments.append(backend_address())
        else:
            arguments.append(value)
    status, out, err = run(capsys, "balance-config", *arguments)
    assert status == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert out == ""
    assert not TorConfig.from_env().balance_dir.exists()


def test_a_different_key_already_in_the_folder_is_refused(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "balance-config", "--backend", backend_address())
    folder = TorConfig.from_env().balance_dir
    stranger = OnionKey.generate()
    (folder / f"{stranger.service_id}.key").write_bytes(b"x")
    status, _, err = run(capsys, "balance-config", "--backend", backend_address())
    assert status == 1 and "already holds another frontend key" in err


def test_with_the_public_onion_off_serve_publishes_only_the_sync_onion(tmp_path: Path) -> None:
    """OnionBalance publishes the public onion: a second publisher would fight it."""
    config = TorConfig(data_dir=tmp_path / "source", disable_network=True, publish_public=False)
    addresses, _ = init_keys(config)
    authorise_client(config.clients_dir, "officer", ClientPrivateKey.generate().public)
    with open_tor(config) as tor:
        published = publish_public_host(tor.controller, config)
        assert published.public is None
        assert published.sync.service_id == addresses.sync
        assert published_service_ids(tor.controller) == [addresses.sync]


def test_the_public_onion_switch_is_read_from_the_environment() -> None:
    assert TorConfig.from_env({"IBLAGH_DATA_DIR": "x"}).publish_public
    assert not TorConfig.from_env(
        {"IBLAGH_DATA_DIR": "x", "IBLAGH_TOR_PUBLIC_ONION": "0"}
    ).publish_public
