"""Onion keys, client keys and their files, without tor: formats, addresses, permissions."""

import base64
import os
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from tor.client_auth import (
    ClientPrivateKey,
    ClientPublicKey,
    authorise_client,
    authorised_clients,
    revoke_client,
    write_auth_private_file,
)
from tor.config import PowSettings, TorConfig
from tor.errors import InsecureKeyFile, MalformedKey, TorConfigError
from tor.keys import (
    OnionKey,
    is_service_id,
    load_onion_key,
    load_or_create_onion_key,
    write_private_file,
)

# Made by tor 0.4.9.11: ADD_ONION NEW:ED25519-V3 answered this key and this ServiceID.
TOR_KEY = (
    "ED25519-V3:mGp9ZxAnuT8JVU6jgGxKrWFuvYTQVwrUP/8JyzO5MkGB84NA"
    "t9pwM090n5C9HwHOa46XRmCJ6GPdnvamWMkgoQ=="
)
TOR_SERVICE_ID = "p5gtminu3ocf24g4npkamm5cyibvxxgpbulp5trbr2pvebmnzl2df5id"


def test_the_address_is_derived_from_the_key_as_tor_derives_it() -> None:
    key = OnionKey.from_blob(TOR_KEY)
    assert key.service_id == TOR_SERVICE_ID
    assert key.hostname == TOR_SERVICE_ID + ".onion"
    assert key.blob == TOR_KEY
    assert is_service_id(TOR_SERVICE_ID)


def test_a_mistyped_address_fails_its_checksum() -> None:
    typo = "q" + TOR_SERVICE_ID[1:]
    assert not is_service_id(typo)
    assert not is_service_id(TOR_SERVICE_ID[:-1])
    assert not is_service_id("not an onion address at all")


def test_generated_keys_are_distinct_and_never_printed() -> None:
    first, second = OnionKey.generate(), OnionKey.generate()
    assert first.service_id != second.service_id
    assert is_service_id(first.service_id)
    assert first.blob not in repr(first)


@pytest.mark.parametrize("blob", ["", "RSA1024:abcd", "ED25519-V3:!!!", "ED25519-V3:AAAA"])
def test_a_malformed_key_blob_is_refused(blob: str) -> None:
    with pytest.raises(MalformedKey):
        OnionKey.from_blob(blob)


def test_the_key_is_made_once_and_kept_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "tor" / "public-onion.key"
    key, made = load_or_create_onion_key(path)
    again, made_again = load_or_create_onion_key(path)
    assert (made, made_again) == (True, False)
    assert again.service_id == key.service_id
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["public-onion.key"]


def test_a_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "tor" / "public-onion.key"
    load_or_create_onion_key(path)
    path.chmod(0o644)
    with pytest.raises(InsecureKeyFile, match=r"mode 0644.*chmod 600"):
        load_onion_key(path)


def test_a_key_folder_others_can_enter_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "tor" / "public-onion.key"
    load_or_create_onion_key(path)
    path.parent.chmod(0o755)
    with pytest.raises(InsecureKeyFile, match=r"mode 0755.*chmod 700"):
        load_onion_key(path)


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "tor" / "real.key"
    load_or_create_onion_key(real)
    link = tmp_path / "tor" / "public-onion.key"
    link.symlink_to(real)
    with pytest.raises(InsecureKeyFile, match="symbolic link"):
        load_onion_key(link)


def test_a_private_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "file"
    write_private_file(path, "first")
    with pytest.raises(FileExistsError):
        write_private_file(path, "second")
    assert path.read_text() == "first"


def test_client_keys_use_tors_base32_without_padding() -> None:
    private = ClientPrivateKey.generate()
    public = private.public
    assert len(public.base32) == 52 and "=" not in public.base32
    assert public.base32 == base64.b32encode(
        bytes(PrivateKey(private.raw).public_key)
    ).decode().rstrip("=")
    assert public.auth_line == f"descriptor:x25519:{public.base32}"
    assert ClientPublicKey.from_auth_line(public.auth_line) == public
    assert ClientPublicKey.from_base32(public.base32.lower()) == public
    assert base64.b64decode(private.base64) == private.raw
    assert private.base32 not in repr(private)


def test_the_officer_hosts_auth_private_line_names_the_sync_onion() -> None:
    private = ClientPrivateKey.from_base32(ClientPrivateKey.generate().base32)
    line = private.auth_private_line(TOR_SERVICE_ID + ".onion")
    assert line == f"{TOR_SERVICE_ID}:descriptor:x25519:{private.base32}"
    with pytest.raises(MalformedKey, match="not a v3 onion address"):
        private.auth_private_line("example.onion")


@pytest.mark.parametrize(
    "line", ["", "descriptor:x25519", "descriptor:ed25519:AAAA", "descriptor:x25519:AAAA"]
)
def test_a_malformed_client_auth_line_is_refused(line: str) -> None:
    with pytest.raises(MalformedKey):
        ClientPublicKey.from_auth_line(line)


def test_authorised_clients_are_files_in_tors_authorized_clients_format(tmp_path: Path) -> None:
    clients_dir = tmp_path / "sync-clients"
    first, second = ClientPrivateKey.generate().public, ClientPrivateKey.generate().public
    path = authorise_client(clients_dir, "desk-1", first)
    authorise_client(clients_dir, "desk-2", second)
    assert path.read_text() == first.auth_line + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert authorised_clients(clients_dir) == {"desk-1": first, "desk-2": second}
    with pytest.raises(MalformedKey, match="already authorised"):
        authorise_client(clients_dir, "desk-1", second)
    with pytest.raises(MalformedKey, match="client name"):
        authorise_client(clients_dir, "../escape", second)
    assert revoke_client(clients_dir, "desk-1") is True
    assert revoke_client(clients_dir, "desk-1") is False
    assert authorised_clients(clients_dir) == {"desk-2": second}


def test_the_auth_private_file_is_private_and_named_as_tor_expects(tmp_path: Path) -> None:
    key = ClientPrivateKey.generate()
    path = write_auth_private_file(tmp_path / "auth" / "iblagh.auth_private", TOR_SERVICE_ID, key)
    assert path.read_text() == key.auth_private_line(TOR_SERVICE_ID) + "\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    with pytest.raises(MalformedKey, match=r"\.auth_private"):
        write_auth_private_file(tmp_path / "auth" / "iblagh.key", TOR_SERVICE_ID, key)


def test_the_configuration_defaults_to_loopback_and_pow_on(tmp_path: Path) -> None:
    config = TorConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path)})
    assert config.tor_dir == tmp_path / "tor"
    assert (config.public_target, config.sync_target) == ("127.0.0.1:8080", "127.0.0.1:8081")
    assert config.pow == PowSettings(enabled=True, queue_rate=250, queue_burst=2500)
    assert config.control == "" and not config.disable_network


def test_the_pow_defence_and_targets_are_configurable(tmp_path: Path) -> None:
    config = TorConfig.from_env(
        {
            "IBLAGH_DATA_DIR": str(tmp_path),
            "IBLAGH_TOR_POW": "0",
            "IBLAGH_TOR_POW_QUEUE_RATE": "50",
            "IBLAGH_TOR_POW_QUEUE_BURST": "500",
            "IBLAGH_TOR_PUBLIC_TARGET": "unix:/run/iblagh/public.sock",
            "IBLAGH_TOR_SYNC_TARGET": "[::1]:9001",
            "IBLAGH_TOR_CONTROL": "unix:/run/tor/control",
        }
    )
    assert config.pow == PowSettings(enabled=False, queue_rate=50, queue_burst=500)
    assert config.public_target == "unix:/run/iblagh/public.sock"
    assert config.sync_target == "[::1]:9001"
    assert config.control == "unix:/run/tor/control"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IBLAGH_TOR_PUBLIC_TARGET", "0.0.0.0:8080", "loopback"),
        ("IBLAGH_TOR_SYNC_TARGET", "192.0.2.1:8081", "loopback"),
        ("IBLAGH_TOR_SYNC_TARGET", "localhost", "IP:PORT"),
        ("IBLAGH_TOR_PUBLIC_TARGET", "unix:relative.sock", "absolute"),
        ("IBLAGH_TOR_CONTROL", "198.51.100.7:9051", "loopback"),
        ("IBLAGH_TOR_POW", "maybe", "1 or 0"),
        ("IBLAGH_TOR_POW_QUEUE_RATE", "0", "at least 1"),
        ("IBLAGH_TOR_TORRC_INCLUDE", "torrc.d", "absolute"),
    ],
)
def test_a_bad_variable_is_refused_by_name(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    with pytest.raises(TorConfigError, match=message) as refused:
        TorConfig.from_env({"IBLAGH_DATA_DIR": str(tmp_path), name: value})
    assert name in str(refused.value)


def test_keys_belong_to_the_service_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tor" / "public-onion.key"
    load_or_create_onion_key(path)
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(path).st_uid + 1)
    with pytest.raises(InsecureKeyFile, match="chown"):
        load_onion_key(path)
