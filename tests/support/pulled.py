"""The officer's view of the mailbox, for the public host's tests: pull and open everything."""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.public import PrivateKey

from crypto.envelope import EnvelopeMetadata, open_bytes
from tests.conftest import UnitKeys, source_environ
from tests.support.sync import SignedSyncClient


@dataclass
class OpenedBlob:
    metadata: EnvelopeMetadata
    content: bytes
    ciphertext: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    def report(self) -> Any:
        """The fields of a version 2 body: the signed ``content`` inside its wrapper."""
        wrapper = self.json()
        assert wrapper["v"] == 2 and isinstance(wrapper["signature"], str), wrapper
        return json.loads(wrapper["content"])


@dataclass
class PulledSubmission:
    id: str
    kind: str
    reporter_id: str
    blobs: dict[str, OpenedBlob] = field(default_factory=dict)


def pull_and_open(sync_client: SignedSyncClient, keys: list[PrivateKey]) -> list[PulledSubmission]:
    """Every pending submission with every blob decrypted by ``keys`` (not acknowledged)."""
    pulled = []
    for item in sync_client.pending():
        submission = PulledSubmission(item["id"], item["kind"], item["reporter_id"])
        for blob in item["blobs"]:
            response = sync_client.get(f"/sync/v1/submissions/{item['id']}/blobs/{blob['name']}")
            assert response.status_code == 200
            metadata, content = open_bytes(response.data, keys)
            submission.blobs[blob["name"]] = OpenedBlob(metadata, content, response.data)
        pulled.append(submission)
    return pulled


class OfficerView:
    """The unit's side of one public host's data dir: list and open what is pending."""

    def __init__(self, data_dir: Path, unit_keys: UnitKeys) -> None:
        from source_app import create_sync_app
        from source_app.config import SourceConfig

        app = create_sync_app(SourceConfig.from_env(source_environ(data_dir)))
        self.client = SignedSyncClient(app.test_client(), unit_keys.sync)
        # The recovery key opens every envelope: bodies, attachments and identities.
        self.keys = [unit_keys.recovery]

    def pending(self) -> list[PulledSubmission]:
        return pull_and_open(self.client, self.keys)

    def only(self) -> PulledSubmission:
        [submission] = self.pending()
        return submission
