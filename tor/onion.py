"""Publishing v3 onion services through tor's control port (``ADD_ONION``).

We send the raw command rather than stem's ``create_ephemeral_hidden_service``: stem
1.8 has no parameter for the proof-of-work defence and takes a single v3 client key,
and we want both. Services are ephemeral on tor's side — they live as long as our
control connection — but their key is ours and persistent (tor/keys.py), so the
address is the same after every restart.
"""

import re
from dataclasses import dataclass
from typing import Any

from tor.client_auth import ClientPublicKey
from tor.config import PowSettings
from tor.errors import PublishFailed
from tor.keys import OnionKey

_REPLY_FIELD = re.compile(r"([A-Za-z0-9]+)=(.*)")


@dataclass(frozen=True)
class OnionService:
    """What to publish: a key, where the app listens, who may connect, the PoW defence."""

    key: OnionKey
    target: str  # "127.0.0.1:8080" or "unix:/path"
    virtual_port: int = 80
    clients: tuple[ClientPublicKey, ...] = ()
    pow: PowSettings | None = None


@dataclass(frozen=True)
class PublishedOnion:
    """What tor confirmed: the address, the client keys it requires, the PoW we asked."""

    service_id: str
    clients: tuple[str, ...]
    pow: PowSettings | None

    @property
    def hostname(self) -> str:
        return self.service_id + ".onion"

    @property
    def url(self) -> str:
        return f"http://{self.hostname}/"


def add_onion_command(service: OnionService) -> str:
    """The ``ADD_ONION`` line for ``service`` (it carries the secret key: never log it)."""
    parts = ["ADD_ONION", service.key.blob]
    if service.clients:
        parts.append("Flags=V3Auth")
    parts.append(f"Port={service.virtual_port},{service.target}")
    parts += [f"ClientAuthV3={client.base32}" for client in service.clients]
    if service.pow is not None and service.pow.enabled:
        parts += [
            "PoWDefensesEnabled=1",
            f"PoWQueueRate={service.pow.queue_rate}",
            f"PoWQueueBurst={service.pow.queue_burst}",
        ]
    return " ".join(parts)


def publish(controller: Any, service: OnionService) -> PublishedOnion:
    """Publish ``service`` on the tor behind ``controller``; raises :class:`PublishFailed`."""
    response = controller.msg(add_onion_command(service))
    if not response.is_ok():
        code, _, message = response.content()[0]
        if code == "550" and "collision" in message.lower():
            raise PublishFailed(
                f"{service.key.hostname} is already published by this tor: is another "
                "iblagh-tor running?"
            )
        raise PublishFailed(f"tor refused to publish the onion service: {code} {message}")
    fields: dict[str, list[str]] = {}
    for _code, _divider, content in response.content():
        match = _REPLY_FIELD.fullmatch(content)
        if match:
            fields.setdefault(match.group(1), []).append(match.group(2))
    service_ids = fields.get("ServiceID", [])
    if service_ids != [service.key.service_id]:
        raise PublishFailed("tor published another address than our key's: refusing to go on")
    confirmed = tuple(fields.get("ClientAuthV3", []))
    if {client.base32 for client in service.clients} != set(confirmed):
        controller.msg(f"DEL_ONION {service.key.service_id}")
        raise PublishFailed("tor did not confirm every authorised client key: withdrawn")
    pow_settings = service.pow if service.pow is not None and service.pow.enabled else None
    return PublishedOnion(service_id=service_ids[0], clients=confirmed, pow=pow_settings)


def withdraw(controller: Any, service_id: str) -> None:
    """Stop publishing an address on this tor (it also stops when our connection closes)."""
    response = controller.msg(f"DEL_ONION {service_id}")
    if not response.is_ok():
        code, _, message = response.content()[0]
        raise PublishFailed(f"tor could not withdraw the onion service: {code} {message}")


def published_service_ids(controller: Any) -> list[str]:
    """The ephemeral services this control connection owns."""
    return [line for line in controller.get_info("onions/current", "").splitlines() if line]
