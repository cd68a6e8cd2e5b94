"""The scale-out public tier on loopback: replicas behind the reference nginx block.

Shared by tests/test_replicas_behind_nginx.py and ``python -m bench --scale-out`` so the
bench measures the topology the test checks (docs/operator.md, §12.4). The replicas take
one ``environ`` (database, blob store, Redis, session secret all shared through it).
"""

import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.deployment import SOURCE_CONF
from tests.support.nginx import Nginx, running_nginx
from tests.support.servers import Server, gunicorn

# moto takes any credentials; boto3 wants some before it signs a request.
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class PublicTier:
    front: Nginx
    replicas: list[Server]
    sync: Server | None


@contextmanager
def public_tier(
    folder: Path,
    environ: Mapping[str, str],
    *,
    replicas: int = 2,
    workers: int = 1,
    threads: int = 4,
    with_sync: bool = True,
) -> Iterator[PublicTier]:
    """``replicas`` gunicorn units of the public site (logs ``a.log``, ``b.log``, ... in
    ``folder``), the sync listener, and nginx in front of the replicas."""
    with ExitStack() as stack:
        started = [
            stack.enter_context(
                gunicorn("source_app:create_app()", environ, folder / f"{chr(97 + n)}.log",
                         config=SOURCE_CONF, workers=workers, threads=threads)
            )
            for n in range(replicas)
        ]  # fmt: skip
        sync = None
        if with_sync:
            sync = stack.enter_context(
                gunicorn("source_app:create_sync_app()", environ, folder / "sync.log",
                         config=SOURCE_CONF, probe_path="/sync/v1/submissions")
            )  # fmt: skip
        upstreams = [f"127.0.0.1:{server.port}" for server in started]
        front = stack.enter_context(running_nginx(folder / "nginx", upstreams))
        yield PublicTier(front=front, replicas=started, sync=sync)


@contextmanager
def running_s3_bucket() -> Iterator[dict[str, str]]:
    """moto's S3 server on loopback with one bucket: the public host's blob variables."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    saved = {name: os.environ.get(name) for name in S3_CREDENTIALS}
    os.environ.update(S3_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        from source_app.storage_s3 import s3_client

        bucket = f"iblagh-{secrets.token_hex(6)}"
        s3_client(endpoint, "us-east-1").create_bucket(Bucket=bucket)
        yield {
            **S3_CREDENTIALS,
            "IBLAGH_BLOB_URL": f"s3://{bucket}/blobs",
            "IBLAGH_BLOB_S3_ENDPOINT": endpoint,
            "IBLAGH_BLOB_S3_REGION": "us-east-1",
        }
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
