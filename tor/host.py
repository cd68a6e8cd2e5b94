"""The public host's two onion services: the public site, and the sync API for officers.

- The **public onion** maps port 80 to the public site's listener only, with the
  proof-of-work defence on by default: anyone may reach it, so it must hold up under
  an introduction flood.
- The **sync onion** maps port 80 to the sync listener only, and requires v3 client
  authorisation: only officer hosts whose x25519 key is in ``sync-clients/`` can even
  fetch its descriptor. It is never published without at least one such key.

Each gets its own persistent key, so the two addresses cannot be linked by key.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tor.client_auth import authorised_clients
from tor.config import TorConfig
from tor.errors import MissingKeys, NoAuthorisedClient
from tor.keys import OnionKey, ensure_private_dir, load_onion_key, load_or_create_onion_key
from tor.onion import OnionService, PublishedOnion, publish, withdraw


@dataclass(frozen=True)
class OnionAddresses:
    """The two service ids (addresses without ``.onion``)."""

    public: str
    sync: str


@dataclass(frozen=True)
class PublishedHost:
    public: PublishedOnion | None  # None: OnionBalance publishes it (publish_public off)
    sync: PublishedOnion


def init_keys(config: TorConfig) -> tuple[OnionAddresses, bool]:
    """Create whichever onion key is missing; True when one was made now."""
    ensure_private_dir(config.tor_dir)
    ensure_private_dir(config.clients_dir)
    public, public_made = load_or_create_onion_key(config.public_key_path)
    sync, sync_made = load_or_create_onion_key(config.sync_key_path)
    return OnionAddresses(public.service_id, sync.service_id), public_made or sync_made


def load_addresses(config: TorConfig) -> OnionAddresses:
    """The addresses of the stored keys; :class:`MissingKeys` before ``iblagh-tor init``."""
    return OnionAddresses(
        _stored_key(config, config.public_key_path).service_id,
        _stored_key(config, config.sync_key_path).service_id,
    )


def public_service(config: TorConfig) -> OnionService:
    return OnionService(
        key=_stored_key(config, config.public_key_path),
        target=config.public_target,
        pow=config.pow,
    )


def sync_service(config: TorConfig) -> OnionService:
    clients = authorised_clients(config.clients_dir)
    if not clients:
        raise NoAuthorisedClient(
            "no officer host is authorised for the sync onion, so it would be open to "
            "anyone who learns its address: run 'iblagh-tor authorise-officer' first"
        )
    return OnionService(
        key=_stored_key(config, config.sync_key_path),
        target=config.sync_target,
        clients=tuple(clients.values()),
    )


def publish_public_host(controller: Any, config: TorConfig) -> PublishedHost:
    """Publish both services; if the second fails, the first is withdrawn.

    With ``publish_public`` off only the sync onion is published: OnionBalance publishes
    the public onion's descriptor, and two publishers of one address would overwrite
    each other's descriptors.
    """
    sync_spec = sync_service(config)  # refuse before publishing anything
    if not config.publish_public:
        return PublishedHost(public=None, sync=publish(controller, sync_spec))
    public = publish(controller, public_service(config))
    try:
        sync = publish(controller, sync_spec)
    except BaseException:
        withdraw(controller, public.service_id)
        raise
    return PublishedHost(public=public, sync=sync)


def _stored_key(config: TorConfig, path: Path) -> OnionKey:
    if not path.exists():
        raise MissingKeys(
            f"no onion key at {path}: run 'iblagh-tor init' with this IBLAGH_DATA_DIR first"
        )
    return load_onion_key(path)
