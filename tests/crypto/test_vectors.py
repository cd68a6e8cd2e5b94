"""Every envelope v1 test vector (tests/vectors/envelope_v1.json) opens as it says.

The browser code runs the same file; see docs/envelope.md, "Test vectors".
"""

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from nacl.public import PrivateKey

from crypto import errors
from crypto.envelope import open_bytes

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "envelope_v1.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))


def test_vectors_cover_good_and_bad_envelopes() -> None:
    assert len({vector["description"] for vector in VECTORS}) == len(VECTORS)
    assert sum("result" in vector for vector in VECTORS) >= 8
    assert {vector.get("error") for vector in VECTORS} == {
        None,
        "EnvelopeError",
        "NoMatchingRecipient",
    }
    assert VECTORS_FILE.stat().st_size < 1536 * 1024


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["description"] for vector in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    key = PrivateKey(base64.b64decode(vector["recipient_private_key"], validate=True))
    envelope = base64.b64decode(vector["envelope"], validate=True)
    if "error" in vector:
        expected: type[errors.EnvelopeError] = getattr(errors, vector["error"])
        with pytest.raises(errors.EnvelopeError) as caught:
            open_bytes(envelope, [key])
        assert type(caught.value) is expected
        return

    metadata, content = open_bytes(envelope, [key])
    result = vector["result"]
    assert (metadata.kind, metadata.name, metadata.content_type) == (
        result["kind"],
        result["name"],
        result["type"],
    )
    assert len(content) == result["content_size"]
    assert hashlib.sha256(content).hexdigest() == result["content_sha256"]
    if "content" in result:
        assert content == base64.b64decode(result["content"], validate=True)
