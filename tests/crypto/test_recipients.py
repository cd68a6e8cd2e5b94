"""The signed recipient set: whom reports are sealed to, and who may pull them."""

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey
from nacl.signing import SigningKey

from crypto.encoding import canonical_json
from crypto.envelope import EnvelopeMetadata, open_bytes, seal_bytes
from crypto.errors import CryptoError, NoMatchingRecipient, SignatureError
from crypto.recipients import (
    Recipient,
    RecipientSet,
    make_recipient_set,
    sign_recipient_set,
    verify_recipient_set,
)

FLIPS = settings(max_examples=300, deadline=None)


@pytest.fixture(scope="module")
def identity_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="module")
def recipient_set(
    intake_key: PrivateKey,
    recovery_key: PrivateKey,
    sync_signing_key: SigningKey,
    identity_key: PrivateKey,
) -> RecipientSet:
    return make_recipient_set(
        serial=3,
        issued_at="2026-11-28T18:00:00Z",
        intake_keys=[intake_key.public_key],
        recovery_key=recovery_key.public_key,
        sync_verify_keys=[sync_signing_key.verify_key],
        identity_keys=[identity_key.public_key],
    )


@pytest.fixture(scope="module")
def signed(recipient_set: RecipientSet, unit_signing_key: SigningKey) -> bytes:
    return sign_recipient_set(recipient_set, unit_signing_key)


def test_sign_verify_round_trip(
    recipient_set: RecipientSet,
    signed: bytes,
    unit_signing_key: SigningKey,
    intake_key: PrivateKey,
    recovery_key: PrivateKey,
) -> None:
    verified = verify_recipient_set(signed, unit_signing_key.verify_key)
    assert verified == recipient_set
    assert verified.public_keys() == [intake_key.public_key, recovery_key.public_key]
    assert [r.role for r in verified.recipients] == ["intake", "identity", "recovery"]
    assert verified.recipients[0].key_id == recipient_set.recipients[0].key_id


def test_identity_sections_and_bodies_have_separate_recipients(
    signed: bytes,
    unit_signing_key: SigningKey,
    intake_key: PrivateKey,
    identity_key: PrivateKey,
    recovery_key: PrivateKey,
) -> None:
    """Invariant 5 by cryptography: an intake key never opens an identity section, an
    identity key never opens a report body; the offline recovery key opens both."""
    verified = verify_recipient_set(signed, unit_signing_key.verify_key)
    assert verified.identity_public_keys() == [identity_key.public_key, recovery_key.public_key]
    assert intake_key.public_key not in verified.identity_public_keys()
    assert identity_key.public_key not in verified.public_keys()
    body = seal_bytes(b"what I saw", verified.public_keys(), EnvelopeMetadata(kind="report"))
    identity = seal_bytes(
        b"who I am", verified.identity_public_keys(), EnvelopeMetadata(kind="identity")
    )
    assert open_bytes(body, [intake_key])[1] == b"what I saw"
    assert open_bytes(identity, [identity_key])[1] == b"who I am"
    for envelope, plaintext in ((body, b"what I saw"), (identity, b"who I am")):
        assert open_bytes(envelope, [recovery_key])[1] == plaintext
    with pytest.raises(NoMatchingRecipient):
        open_bytes(identity, [intake_key])
    with pytest.raises(NoMatchingRecipient):
        open_bytes(body, [identity_key])


def test_several_identity_keys_round_trip(
    unit_signing_key: SigningKey, intake_key: PrivateKey, recovery_key: PrivateKey
) -> None:
    identities = [PrivateKey.generate().public_key for _ in range(2)]
    built = make_recipient_set(
        7,
        "2026-12-01T00:00:00Z",
        [intake_key.public_key],
        recovery_key.public_key,
        [],
        identity_keys=identities,
    )
    verified = verify_recipient_set(
        sign_recipient_set(built, unit_signing_key), unit_signing_key.verify_key
    )
    assert verified == built
    assert verified.identity_public_keys() == [*identities, recovery_key.public_key]
    assert verified.public_keys() == [intake_key.public_key, recovery_key.public_key]


def test_signature_covers_the_canonical_payload(
    signed: bytes, unit_signing_key: SigningKey
) -> None:
    document = json.loads(signed)
    payload = base64.b64decode(document["payload"])
    assert payload == canonical_json(json.loads(payload))
    unit_signing_key.verify_key.verify(payload, base64.b64decode(document["signature"]))


def test_wrong_verify_key(signed: bytes) -> None:
    with pytest.raises(SignatureError):
        verify_recipient_set(signed, SigningKey.generate().verify_key)


def _replace(signed: bytes, **fields: Any) -> bytes:
    document = json.loads(signed)
    document.update(fields)
    return json.dumps(document).encode()


def test_modified_payload(signed: bytes, unit_signing_key: SigningKey) -> None:
    payload = json.loads(base64.b64decode(json.loads(signed)["payload"]))
    payload["serial"] += 1
    forged = _replace(signed, payload=base64.b64encode(canonical_json(payload)).decode())
    with pytest.raises(SignatureError):
        verify_recipient_set(forged, unit_signing_key.verify_key)


def test_added_recipient(
    signed: bytes, unit_signing_key: SigningKey, stranger_key: PrivateKey
) -> None:
    payload = json.loads(base64.b64decode(json.loads(signed)["payload"]))
    stranger = base64.b64encode(bytes(stranger_key.public_key)).decode()
    payload["recipients"].append({"role": "intake", "public_key": stranger})
    forged = _replace(signed, payload=base64.b64encode(canonical_json(payload)).decode())
    with pytest.raises(SignatureError):
        verify_recipient_set(forged, unit_signing_key.verify_key)


def test_modified_signature(signed: bytes, unit_signing_key: SigningKey) -> None:
    signature = bytearray(base64.b64decode(json.loads(signed)["signature"]))
    signature[10] ^= 0x40
    forged = _replace(signed, signature=base64.b64encode(bytes(signature)).decode())
    with pytest.raises(SignatureError):
        verify_recipient_set(forged, unit_signing_key.verify_key)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff",
        b"[]",
        b"{}",
        b'{"payload": "e30="}',
        b'{"payload": 1, "signature": "AA=="}',
        b'{"payload": "e30=", "signature": "AA=="}',
    ],
)
def test_not_a_signed_set(raw: bytes, unit_signing_key: SigningKey) -> None:
    with pytest.raises(SignatureError):
        verify_recipient_set(raw, unit_signing_key.verify_key)


def test_missing_recovery_intake_or_identity_is_refused(
    intake_key: PrivateKey,
    recovery_key: PrivateKey,
    identity_key: PrivateKey,
    unit_signing_key: SigningKey,
) -> None:
    identity = [identity_key.public_key]
    with pytest.raises(CryptoError, match="intake"):
        make_recipient_set(1, "2026-01-01", [], recovery_key.public_key, [], identity_keys=identity)
    with pytest.raises(CryptoError, match="identity key"):
        make_recipient_set(
            1, "2026-01-01", [intake_key.public_key], recovery_key.public_key, [], identity_keys=[]
        )
    only_intake = RecipientSet(
        1,
        "2026-01-01",
        (Recipient("intake", bytes(32)), Recipient("identity", bytes(identity_key.public_key))),
        (),
    )
    with pytest.raises(CryptoError, match="recovery"):
        sign_recipient_set(only_intake, unit_signing_key)
    two_recovery = RecipientSet(
        1,
        "2026-01-01",
        (
            Recipient("intake", bytes(intake_key.public_key)),
            Recipient("identity", bytes(identity_key.public_key)),
            Recipient("recovery", bytes(recovery_key.public_key)),
            Recipient("recovery", bytes(PrivateKey.generate().public_key)),
        ),
        (),
    )
    with pytest.raises(CryptoError):
        two_recovery.check()


def test_too_many_or_repeated_recipients_are_refused(
    intake_key: PrivateKey, recovery_key: PrivateKey, identity_key: PrivateKey
) -> None:
    many = [PrivateKey.generate().public_key for _ in range(7)]
    identity = [identity_key.public_key]
    with pytest.raises(CryptoError, match="at most 8"):
        make_recipient_set(
            1, "2026-01-01", many, recovery_key.public_key, [], identity_keys=identity
        )
    with pytest.raises(CryptoError, match="distinct"):
        make_recipient_set(
            1,
            "2026-01-01",
            [recovery_key.public_key],
            recovery_key.public_key,
            [],
            identity_keys=identity,
        )
    # One key cannot be both an intake and an identity key: reading would mean revealing.
    with pytest.raises(CryptoError, match="distinct"):
        make_recipient_set(
            1,
            "2026-01-01",
            [intake_key.public_key],
            recovery_key.public_key,
            [],
            identity_keys=[intake_key.public_key],
        )


def test_a_validly_signed_but_unusable_set_is_refused(unit_signing_key: SigningKey) -> None:
    # The unit's key signs whatever it is given; the public host still checks the content.
    payload = {
        "format": "iblagh-recipient-set/1",
        "serial": 1,
        "issued_at": "2026-01-01",
        "recipients": [{"role": "recovery", "public_key": base64.b64encode(bytes(32)).decode()}],
        "sync_verify_keys": [],
    }
    raw = canonical_json(payload)
    document = {
        "payload": base64.b64encode(raw).decode(),
        "signature": base64.b64encode(unit_signing_key.sign(raw).signature).decode(),
    }
    with pytest.raises(CryptoError):
        verify_recipient_set(json.dumps(document).encode(), unit_signing_key.verify_key)


@FLIPS
@given(data=st.data())
def test_flips_in_the_signed_bytes_never_verify(
    signed: bytes, unit_signing_key: SigningKey, data: st.DataObject
) -> None:
    document = json.loads(signed)
    field = data.draw(st.sampled_from(["payload", "signature"]))
    raw = bytearray(base64.b64decode(document[field]))
    raw[data.draw(st.integers(0, len(raw) - 1))] ^= data.draw(st.integers(1, 255))
    document[field] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(SignatureError):
        verify_recipient_set(json.dumps(document).encode(), unit_signing_key.verify_key)


@FLIPS
@given(data=st.data())
def test_a_flipped_byte_in_the_file_never_verifies_to_another_set(
    signed: bytes, recipient_set: RecipientSet, unit_signing_key: SigningKey, data: st.DataObject
) -> None:
    # A flip in JSON whitespace or in the unused low bits of a base64 group changes the
    # file but not the signed bytes: it still verifies, to the very same set.
    damaged = bytearray(signed)
    damaged[data.draw(st.integers(0, len(signed) - 1))] ^= data.draw(st.integers(1, 255))
    try:
        verified = verify_recipient_set(bytes(damaged), unit_signing_key.verify_key)
    except SignatureError:
        return
    assert verified == recipient_set
