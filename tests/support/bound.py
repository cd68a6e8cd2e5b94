"""Report parts sealed as the public host seals them, body version 2 (docs/envelope.md)."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

from nacl.public import PublicKey
from nacl.signing import SigningKey

from crypto.contents import BODY_SIGNATURE_PREFIX, envelope_sha256, new_binding
from crypto.encoding import b64encode
from crypto.envelope import EnvelopeMetadata, seal_bytes


def signed_body(document: Mapping[str, Any], key: SigningKey) -> bytes:
    """The version 2 wrapper around ``document`` (``v``: 2 added), signed with ``key``."""
    content = json.dumps({"v": 2, **document}, ensure_ascii=False)
    signature = key.sign(BODY_SIGNATURE_PREFIX + content.encode("utf-8")).signature
    return json.dumps(
        {"v": 2, "content": content, "signature": b64encode(signature)}, ensure_ascii=False
    ).encode("utf-8")


def bound_parts(
    body: Mapping[str, Any],
    body_keys: Sequence[PublicKey],
    identity: Mapping[str, str] | None = None,
    identity_keys: Sequence[PublicKey] = (),
    *,
    kind: str = "report",
    signing_key: SigningKey | None = None,
) -> dict[str, bytes]:
    """``{"body": ..., "identity": ...}``: the identity bound to the body, the body signed."""
    key = signing_key or SigningKey.generate()
    binding = new_binding()
    parts: dict[str, bytes] = {}
    if identity is not None:
        parts["identity"] = seal_bytes(
            json.dumps({"v": 2, "binding": binding, **identity}).encode(),
            identity_keys,
            EnvelopeMetadata(kind="identity", content_type="application/json"),
        )
    document = {
        "attachments": [],
        **body,
        "binding": binding,
        "identity": {"sha256": envelope_sha256(parts["identity"])}
        if identity is not None
        else None,
        "reporter_verify_key": b64encode(bytes(key.verify_key)),
    }
    parts["body"] = seal_bytes(
        signed_body(document, key),
        body_keys,
        EnvelopeMetadata(kind=kind, content_type="application/json"),
    )
    return parts
