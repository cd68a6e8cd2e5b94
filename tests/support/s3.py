"""A real S3 protocol endpoint for the suite: moto's standalone server on loopback HTTP.

Nothing is patched: boto3 speaks HTTP to 127.0.0.1 as it would to MinIO or AWS.
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# moto takes any credentials; boto3 wants some before it signs a request.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Endpoint:
    url: str

    def client(self) -> Any:
        from source_app.storage_s3 import s3_client

        return s3_client(self.url, "us-east-1")

    def new_bucket(self) -> str:
        name = f"iblagh-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        for name, value in CREDENTIALS.items():
            env.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield S3Endpoint(f"http://{host}:{port}")
        finally:
            server.stop()
