"""A signed client for the sync API, over Flask's test client, for the public host's tests;
and a way to put a submission on the public host as its own code would leave it."""

import base64
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from unittest.mock import patch

from flask import Flask
from flask.testing import FlaskClient
from nacl.signing import SigningKey
from werkzeug.test import TestResponse

from crypto.sync_auth import sign_request
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.models import Reporter, Submission, SubmissionBlob


class SignedSyncClient:
    """Sends requests signed with the officer host's sync key."""

    def __init__(self, client: FlaskClient, key: SigningKey) -> None:
        self.client = client
        self.key = key

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        headers: dict[str, str] | None = None,
        now: float | None = None,
    ) -> TestResponse:
        signed = sign_request(self.key, method, path, body, now=now)
        return self.client.open(
            path, method=method, data=body, headers={**signed, **(headers or {})}
        )

    def get(self, path: str) -> TestResponse:
        return self.request("GET", path)

    def pending(self) -> list[dict[str, Any]]:
        response = self.get("/sync/v1/submissions")
        assert response.status_code == 200, response.get_data(as_text=True)
        items: list[dict[str, Any]] = response.get_json()["submissions"]
        return items

    def ack(self, ids: list[str]) -> dict[str, Any]:
        response = self.request("POST", "/sync/v1/ack", json.dumps({"ids": ids}).encode())
        assert response.status_code == 200, response.get_data(as_text=True)
        result: dict[str, Any] = response.get_json()
        return result


@contextmanager
def freeze_clock(at: float) -> Iterator[None]:
    """Make ``time.time()`` answer ``at``, to replay a request late in its window."""
    with patch("time.time", return_value=at):
        yield


def hold_submission(app: Flask, item: dict[str, Any], contents: dict[str, bytes]) -> None:
    """Store a submission on the public host of ``app``, rows and ciphertext, as listed in
    ``item`` (a listing item); whatever it holds, the contract allows or not."""
    host: PublicHost = app.extensions[EXTENSION_KEY]
    hour = datetime.strptime(item["received_hour"], "%Y-%m-%dT%H:%M:%SZ")
    with host.sessions() as session:
        if session.get(Reporter, item["reporter_id"]) is None:
            session.add(
                Reporter(
                    id=item["reporter_id"],
                    lookup_hash=hashlib.sha256(item["reporter_id"].encode()).digest(),
                    public_key=base64.b64decode(item["reporter_public_key"]),
                    created_hour=hour,
                )
            )
        blobs = [
            SubmissionBlob(
                name=name,
                blob_key=host.store.put(data).key,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
            for name, data in contents.items()
        ]
        session.add(
            Submission(
                id=item["id"],
                reporter_id=item["reporter_id"],
                kind=item["kind"],
                received_hour=hour,
                blobs=blobs,
            )
        )
        session.commit()
