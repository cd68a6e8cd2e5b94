"""Blob store throughput, local folder against an S3-compatible bucket (moto on loopback).

``.venv/bin/python -m bench.blob_store [--mb 256]``: one blob of ``--mb`` MiB written in
256 KiB pieces (as uploads arrive) and read back in 1 MiB pieces, then 200 report-sized
(4 KiB) blobs one by one. moto holds objects in this process's memory and answers
through Werkzeug, so its figures are a floor for a real object store, not a forecast.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from source_app.storage import BlobStore, LocalBlobStore
from source_app.storage_s3 import S3BlobStore, S3Location, s3_client

PIECE = 256 * 1024
SMALL = 200


def _measure(store: BlobStore, total: int) -> tuple[float, float, float]:
    piece = os.urandom(PIECE)
    began = time.perf_counter()
    with store.new_blob() as upload:
        for _ in range(total // PIECE):
            upload.write(piece)
    written = time.perf_counter() - began
    began, read = time.perf_counter(), 0
    with store.open(upload.ref.key) as blob:
        while chunk := blob.read(1 << 20):
            read += len(chunk)
    reading = time.perf_counter() - began
    began = time.perf_counter()
    for _ in range(SMALL):
        store.put(os.urandom(4096))
    small = time.perf_counter() - began
    return total / written / 1e6, read / reading / 1e6, SMALL / small


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mb", type=int, default=256, help="size of the large blob (MiB)")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer  # a test dependency: only this bench needs it

    for name, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench")):
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = s3_client(f"http://{host}:{port}", "us-east-1")
        client.create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory(
            dir=Path.cwd() / "var" if (Path.cwd() / "var").is_dir() else None
        ) as folder:
            stores: list[tuple[str, BlobStore]] = [
                ("local folder (fsync, rename)", LocalBlobStore(Path(folder))),
                ("S3 (moto, loopback HTTP)", S3BlobStore(client, S3Location("bench", "b/"))),
            ]
            print(f"| store | write {args.mb} MiB | read back | 4 KiB blobs one by one |")
            print("|---|---|---|---|")
            for name, store in stores:
                write, read, small = _measure(store, args.mb * 1024 * 1024)
                print(
                    f"| {name} | {write:.0f} MB/s | {read:.0f} MB/s | {small:.0f}/s |", flush=True
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
