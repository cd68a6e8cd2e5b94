"""Report body version 2 (docs/envelope.md): bound, signed, and its vectors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crypto.contents import (
    ContentError,
    IdentitySection,
    ReportBody,
    encode_reporter_key,
    envelope_sha256,
    new_binding,
)
from crypto.encoding import b64encode
from crypto.receipt import ReceiptCode, derive_reporter_secrets

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "body_v2.json"


def _secrets(code: str = "0123 4567 8901 2345 6789"):  # type: ignore[no-untyped-def]
    return derive_reporter_secrets(ReceiptCode.parse(code))


def test_every_good_vector_verifies_and_every_bad_one_fails() -> None:
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    vk = bytes(_secrets().verify_key).hex()
    for vector in vectors["good"]:
        assert vector["verify_key"] == vk
        body = ReportBody.from_json(vector["body"].encode("utf-8"))
        assert body.signed_content.hex() == vector["signed_hex"][len(b"iblagh-body/2".hex()) :]
        assert body.signature.hex() == vector["signature"]
        assert body.signature_valid(bytes.fromhex(vk))
        assert body.binding == vector["binding"]
        assert body.identity_sha256 == vector["identity_sha256"]
    for vector in vectors["bad"]:
        if vector["error"] == "ContentError":
            with pytest.raises(ContentError):
                ReportBody.from_json(vector["body"].encode("utf-8"))
        else:
            body = ReportBody.from_json(vector["body"].encode("utf-8"))
            assert not body.signature_valid(bytes.fromhex(vk))


def test_the_vectors_are_what_the_script_writes(tmp_path: Path) -> None:
    before = VECTORS.read_bytes()
    script = VECTORS.with_name("make_body_vectors.py")
    subprocess.run([sys.executable, str(script)], check=True, cwd=VECTORS.parents[2])
    assert VECTORS.read_bytes() == before


def test_a_signed_body_round_trips_and_a_changed_one_does_not_verify() -> None:
    secrets = _secrets()
    identity = IdentitySection(full_name="Amina", binding=new_binding())
    identity_envelope = b"sealed identity bytes"
    body = ReportBody(
        category="fraud",
        urls=(),
        description="x",
        language="fr",
        reporter_public_key=encode_reporter_key(bytes(secrets.public_key)),
        binding=identity.binding,
        identity_sha256=envelope_sha256(identity_envelope),
        reporter_verify_key=b64encode(bytes(secrets.verify_key)),
    )
    raw = body.to_signed_json(secrets.signing_key)
    read = ReportBody.from_json(raw)
    assert read == body and read.version == 2
    assert read.signature_valid(bytes(secrets.verify_key))
    assert not read.signature_valid(bytes(_secrets("9876 5432 1098 7654 3210").verify_key))
    wrapper = json.loads(raw)
    wrapper["content"] = wrapper["content"].replace('"x"', '"y"')
    assert not ReportBody.from_json(json.dumps(wrapper).encode()).signature_valid(
        bytes(secrets.verify_key)
    )
    assert IdentitySection.from_json(identity.to_json()).binding == identity.binding


def test_a_version_1_body_is_unsigned_and_unbound() -> None:
    body = ReportBody.from_json(b'{"v": 1, "category": "fraud"}')
    assert body.version == 1 and body.binding == "" and body.identity_sha256 is None
    assert not body.signature_valid(bytes(_secrets().verify_key))


def test_a_version_2_identity_without_binding_is_refused() -> None:
    with pytest.raises(ContentError):
        IdentitySection.from_json(b'{"v": 2, "full_name": "A"}')
