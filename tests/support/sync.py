"""A signed client for the sync API, over Flask's test client, for the public host's tests."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from flask.testing import FlaskClient
from nacl.signing import SigningKey
from werkzeug.test import TestResponse

from crypto.sync_auth import sign_request


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
