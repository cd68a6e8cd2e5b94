"""Publishing through a real tor with ``DisableNetwork 1``: nothing leaves the machine.

tor accepts and validates ADD_ONION offline (its reply confirms the address and the
client keys); what only a network can show — a client reaching the onion, a client
without the key turned away, PoW in the published descriptor — is in
test_tor_network.py.
"""

import dataclasses
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.servers import free_port
from tor.client_auth import ClientPrivateKey, authorise_client
from tor.config import PowSettings, TorConfig
from tor.errors import (
    ControlPortUnreachable,
    InsecureKeyFile,
    MissingKeys,
    NoAuthorisedClient,
    PublishFailed,
    TorNotInstalled,
    TorStartFailed,
    UnsafeTor,
)
from tor.host import (
    init_keys,
    load_addresses,
    public_service,
    publish_public_host,
    sync_service,
)
from tor.keys import OnionKey
from tor.onion import OnionService, add_onion_command, publish, published_service_ids
from tor.process import Tor, attach_tor, launch_tor, open_tor

pytestmark = pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning")


@pytest.fixture
def config(tmp_path: Path) -> TorConfig:
    return TorConfig(data_dir=tmp_path / "source", disable_network=True)


@pytest.fixture
def officer_key() -> ClientPrivateKey:
    return ClientPrivateKey.generate()


@pytest.fixture
def ready(config: TorConfig, officer_key: ClientPrivateKey) -> TorConfig:
    """Keys made and one officer host authorised, as ``iblagh-tor init`` leaves it."""
    init_keys(config)
    authorise_client(config.clients_dir, "officer", officer_key.public)
    return config


@pytest.fixture
def tor(ready: TorConfig) -> Iterator[Tor]:
    with open_tor(ready) as running:
        yield running


def test_publishing_returns_the_addresses_of_the_stored_keys(ready: TorConfig, tor: Tor) -> None:
    published = publish_public_host(tor.controller, ready)
    addresses = load_addresses(ready)
    assert published.public.service_id == addresses.public
    assert published.sync.service_id == addresses.sync
    assert addresses.public != addresses.sync
    assert sorted(published_service_ids(tor.controller)) == sorted(
        [addresses.public, addresses.sync]
    )


def test_the_same_addresses_after_a_restart_from_the_stored_keys(ready: TorConfig) -> None:
    with open_tor(ready) as first:
        before = publish_public_host(first.controller, ready)
        first_pid = first.process.pid if first.process else None
    key_bytes = ready.public_key_path.read_bytes()
    with open_tor(ready) as second:
        assert second.process is not None and second.process.pid != first_pid
        after = publish_public_host(second.controller, ready)
    assert (after.public.service_id, after.sync.service_id) == (
        before.public.service_id,
        before.sync.service_id,
    )
    assert ready.public_key_path.read_bytes() == key_bytes
    for path in (ready.public_key_path, ready.sync_key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for folder in (ready.tor_dir, ready.clients_dir, ready.launched_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_the_sync_onion_requires_the_officers_client_key(
    ready: TorConfig, tor: Tor, officer_key: ClientPrivateKey
) -> None:
    published = publish_public_host(tor.controller, ready)
    # tor's own reply lists the client keys it will encrypt the descriptor to.
    assert published.sync.clients == (officer_key.public.base32,)
    assert published.public.clients == ()


def test_several_officer_hosts_can_be_authorised(
    ready: TorConfig, tor: Tor, officer_key: ClientPrivateKey
) -> None:
    second = ClientPrivateKey.generate()
    authorise_client(ready.clients_dir, "backup-desk", second.public)
    published = publish_public_host(tor.controller, ready)
    assert sorted(published.sync.clients) == sorted(
        [officer_key.public.base32, second.public.base32]
    )


def test_pow_defence_is_on_by_default_on_the_public_onion_only(ready: TorConfig, tor: Tor) -> None:
    published = publish_public_host(tor.controller, ready)
    assert published.public.pow == PowSettings(enabled=True, queue_rate=250, queue_burst=2500)
    assert published.sync.pow is None
    command = add_onion_command(sync_service(ready))
    assert "PoWDefensesEnabled" not in command


def test_the_pow_queue_is_configurable_and_tor_checks_it(config: TorConfig, tor: Tor) -> None:
    tuned = dataclasses.replace(config, pow=PowSettings(queue_rate=40, queue_burst=400))
    service = OnionService(key=_fresh_key(), target=tuned.public_target, pow=tuned.pow)
    command = add_onion_command(service)
    assert "PoWDefensesEnabled=1 PoWQueueRate=40 PoWQueueBurst=400" in command
    assert publish(tor.controller, service).pow == tuned.pow
    off = OnionService(key=_fresh_key(), target=tuned.public_target, pow=PowSettings(False))
    assert "PoW" not in add_onion_command(off)
    assert publish(tor.controller, off).pow is None
    # tor validates the values it is given: a refusal is a typed error, not a crash.
    broken = OnionService(
        key=_fresh_key(), target=tuned.public_target, pow=PowSettings(True, 2**40)
    )
    with pytest.raises(PublishFailed, match="PoWQueueRate"):
        publish(tor.controller, broken)


def test_each_onion_maps_port_80_to_its_own_listener_only(ready: TorConfig) -> None:
    tuned = dataclasses.replace(
        ready, public_target="127.0.0.1:18080", sync_target="unix:/run/iblagh/sync.sock"
    )
    assert " Port=80,127.0.0.1:18080 " in add_onion_command(public_service(tuned))
    sync_command = add_onion_command(sync_service(tuned))
    assert " Port=80,unix:/run/iblagh/sync.sock " in sync_command
    assert "18080" not in sync_command and "Flags=V3Auth" in sync_command


def test_the_sync_onion_is_never_published_open_to_anyone(config: TorConfig) -> None:
    init_keys(config)
    with open_tor(config) as running:
        with pytest.raises(NoAuthorisedClient, match="authorise-officer"):
            publish_public_host(running.controller, config)
        assert published_service_ids(running.controller) == [], "nothing was published"


def test_publishing_the_same_address_twice_is_a_clear_error(ready: TorConfig, tor: Tor) -> None:
    publish_public_host(tor.controller, ready)
    with pytest.raises(PublishFailed, match="another iblagh-tor"):
        publish_public_host(tor.controller, ready)


def test_publishing_before_init_says_to_run_init(config: TorConfig) -> None:
    with pytest.raises(MissingKeys, match="iblagh-tor init"):
        load_addresses(config)


def test_a_loose_key_file_stops_publishing(ready: TorConfig, tor: Tor) -> None:
    ready.sync_key_path.chmod(0o640)
    with pytest.raises(InsecureKeyFile, match="chmod 600"):
        publish_public_host(tor.controller, ready)
    assert published_service_ids(tor.controller) == []


def test_the_launched_tor_logs_safely_and_keeps_its_files_private(
    ready: TorConfig, tor: Tor
) -> None:
    published = publish_public_host(tor.controller, ready)
    torrc = (ready.launched_dir / "torrc").read_text()
    assert "SafeLogging 1" in torrc.splitlines()
    assert "SocksPort 0" in torrc.splitlines()
    assert tor.controller.get_conf("SafeLogging") == "1"
    assert (ready.launched_dir / "torrc-defaults").read_text() == ""
    assert stat.S_IMODE((ready.launched_dir / "tor.log").stat().st_mode) == 0o600
    log = (ready.launched_dir / "tor.log").read_text()
    assert published.public.service_id not in log and published.sync.service_id not in log


def test_a_missing_tor_is_named_with_the_package_to_install(ready: TorConfig) -> None:
    missing = dataclasses.replace(ready, tor_binary="/nonexistent/tor")
    with pytest.raises(TorNotInstalled, match="apt-get install tor"):
        open_tor(missing)


def test_an_unreachable_control_port_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ControlPortUnreachable, match=r"cannot reach tor's control port"):
        attach_tor(f"127.0.0.1:{free_port()}")
    with pytest.raises(ControlPortUnreachable, match=r"cannot reach tor's control port"):
        attach_tor(f"unix:{tmp_path / 'no-such-socket'}")


def test_attaching_to_a_running_tor_publishes_through_it(ready: TorConfig, tmp_path: Path) -> None:
    with launch_tor(tmp_path / "system-tor", disable_network=True) as system_tor:
        socket_path = tmp_path / "system-tor" / "data" / "control"
        attached_config = dataclasses.replace(ready, control=f"unix:{socket_path}")
        with open_tor(attached_config) as attached:
            assert not attached.launched
            published = publish_public_host(attached.controller, attached_config)
            assert published.public.service_id in published_service_ids(attached.controller)
        # Our connection closed: its ephemeral services are gone, the system tor stays up.
        assert system_tor.alive()
        assert published.public.service_id not in published_service_ids(system_tor.controller)


def test_attaching_to_a_tor_that_logs_addresses_is_refused(tmp_path: Path) -> None:
    with launch_tor(tmp_path / "loose", disable_network=True, extra_lines=["SafeLogging 0"]):
        socket_path = tmp_path / "loose" / "data" / "control"
        with pytest.raises(UnsafeTor, match="SafeLogging 1"):
            attach_tor(f"unix:{socket_path}")


def test_a_tor_that_cannot_start_shows_its_log(tmp_path: Path) -> None:
    with pytest.raises(TorStartFailed, match="NoSuchOption"):
        launch_tor(tmp_path / "broken", disable_network=True, extra_lines=["NoSuchOption 1"])


def test_a_launched_tor_stops_with_its_controller(ready: TorConfig) -> None:
    running = open_tor(ready)
    assert running.process is not None
    pid = running.process.pid
    running.close()
    assert running.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_long_data_dir_falls_back_to_a_loopback_control_port(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    with launch_tor(deep, disable_network=True) as running:
        assert "ControlPort auto" in (deep / "torrc").read_text()
        assert running.controller.get_info("version")
        assert not (deep / "data" / "control").exists()


def _fresh_key() -> OnionKey:
    return OnionKey.generate()
