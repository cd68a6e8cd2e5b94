"""Invariant 5 by cryptography: an identity section opens with the identity key, never an
intake key, and nothing else a reporter sends opens with the identity key.

A report is sealed by the real public app's form (test client), pulled through the signed
sync API as the officer host pulls it, and each envelope is tried with each unit key. The
officers who read reports hold the intake key; only the roles allowed to reveal hold the
identity key (journalist_app/roles.py), so the reveal's "allowed role" is enforced by
who can decrypt, not only by the officer app's permission check.
"""

import io
import json
from pathlib import Path

import pytest
from flask import Flask
from nacl.public import PrivateKey

from crypto.envelope import open_bytes, read_header
from crypto.errors import NoMatchingRecipient
from crypto.keys import key_id
from source_app import create_sync_app
from source_app.config import SourceConfig
from tests.conftest import ReporterActions, UnitKeys, source_environ
from tests.support.sync import SignedSyncClient

NAME = "Amina Benali"
DESCRIPTION = "A channel posts threats against a school every morning."
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def officer(source_app: Flask, source_data_dir: Path, unit_keys: UnitKeys) -> SignedSyncClient:
    """The officer host's sync client, on the same data dir as the public form."""
    app = create_sync_app(SourceConfig.from_env(source_environ(source_data_dir)))
    return SignedSyncClient(app.test_client(), unit_keys.sync)


def _pull(officer: SignedSyncClient) -> dict[str, dict[str, bytes]]:
    """Every pending submission's blobs, by submission kind and blob name, as ciphertext."""
    pulled: dict[str, dict[str, bytes]] = {}
    for item in officer.pending():
        blobs = pulled.setdefault(item["kind"], {})
        for blob in item["blobs"]:
            response = officer.get(f"/sync/v1/submissions/{item['id']}/blobs/{blob['name']}")
            assert response.status_code == 200
            blobs[blob["name"]] = response.data
    return pulled


def _stanzas(envelope: bytes) -> set[bytes]:
    return set(read_header(io.BytesIO(envelope))[1])


def _ids(*keys: PrivateKey) -> set[bytes]:
    return {key_id(bytes(key.public_key)) for key in keys}


def test_the_identity_section_opens_with_the_identity_key_and_not_the_intake_key(
    reporter: ReporterActions, officer: SignedSyncClient, unit_keys: UnitKeys
) -> None:
    reporter.report(description=DESCRIPTION, full_name=NAME)
    blobs = _pull(officer)["report"]
    assert set(blobs) == {"body", "identity"}
    body, identity = blobs["body"], blobs["identity"]

    # Sealed to two disjoint groups, the offline recovery key in both.
    assert _stanzas(body) == _ids(unit_keys.intake, unit_keys.recovery)
    assert _stanzas(identity) == _ids(unit_keys.identity, unit_keys.recovery)

    # What an analyst holds (the intake key) opens the report, never who sent it.
    metadata, plaintext = open_bytes(body, [unit_keys.intake])
    assert (
        metadata.kind == "report"
        and json.loads(json.loads(plaintext)["content"])["description"] == DESCRIPTION
    )
    with pytest.raises(NoMatchingRecipient):
        open_bytes(identity, [unit_keys.intake])

    # The identity key opens the identity section and nothing else.
    metadata, plaintext = open_bytes(identity, [unit_keys.identity])
    assert metadata.kind == "identity" and json.loads(plaintext)["full_name"] == NAME
    with pytest.raises(NoMatchingRecipient):
        open_bytes(body, [unit_keys.identity])

    # The recovery key from the safe still opens both.
    wrapper = json.loads(open_bytes(body, [unit_keys.recovery])[1])
    assert json.loads(wrapper["content"])["description"] == DESCRIPTION
    assert json.loads(open_bytes(identity, [unit_keys.recovery])[1])["full_name"] == NAME


def test_attachments_and_follow_ups_never_open_with_the_identity_key(
    reporter: ReporterActions, officer: SignedSyncClient, unit_keys: UnitKeys
) -> None:
    code = reporter.report(full_name=NAME, files=[(PNG, "screenshot.png")])
    status, _ = reporter.follow_up(code, "It moved.", files=[(PNG, "second.png")])
    assert status == 200
    pulled = _pull(officer)
    everything_but_identity = [
        (kind, name, envelope)
        for kind, blobs in pulled.items()
        for name, envelope in blobs.items()
        if name != "identity"
    ]
    assert {(kind, name) for kind, name, _ in everything_but_identity} == {
        ("report", "body"),
        ("report", "attachment-1"),
        ("followup", "body"),
        ("followup", "attachment-1"),
    }
    for kind, name, envelope in everything_but_identity:
        assert _stanzas(envelope) == _ids(unit_keys.intake, unit_keys.recovery), (kind, name)
        open_bytes(envelope, [unit_keys.intake])
        with pytest.raises(NoMatchingRecipient):
            open_bytes(envelope, [unit_keys.identity])
    with pytest.raises(NoMatchingRecipient):
        open_bytes(pulled["report"]["identity"], [unit_keys.intake])
