"""Envelopes sealed by the browser's writer open in Python and look like Python's own.

The officer host must not be able to tell a browser-sealed report from a server-sealed
one (issue 10): the Node writer (source_app/static/js/envelope_writer.js) seals, then
crypto/envelope.py opens each envelope for every recipient, and the length and the
framing (chunk lengths) equal those of crypto/envelope.py's seal_bytes for the same
content and metadata.
"""

import base64
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from nacl.public import PrivateKey

from crypto.envelope import EnvelopeMetadata, key_id, open_bytes, seal_bytes

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

CASES = [
    ("report", "", "text/plain; charset=utf-8", "بلاغ عن محتوى".encode() * 40),
    ("identity", "", "application/json", b'{"name": "Salma", "phone": "+212600000000"}'),
    ("attachment", "لقطة شاشة.png", "image/png", bytes(range(256)) * 600),
    ("attachment", 'quote " and \\ and \n', "application/octet-stream", b""),
    ("attachment", "exact.bin", "application/octet-stream", b"\x07" * 65536 * 2),
]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _chunk_lengths(envelope: bytes, count: int) -> list[int]:
    offset, lengths = 9 + 96 * count + 24, []
    while offset < len(envelope):
        (length,) = struct.unpack(">I", envelope[offset : offset + 4])
        lengths.append(length)
        offset += 4 + length
    return lengths


def test_python_opens_browser_sealed_envelopes_and_they_match_python_layout() -> None:
    keys = [PrivateKey.generate() for _ in range(3)]
    publics = [key.public_key for key in keys]
    requests = [
        {
            "recipients": [_b64(bytes(public)) for public in publics],
            "kind": kind,
            "name": name,
            "type": content_type,
            "content": _b64(content),
        }
        for kind, name, content_type, content in CASES
    ]
    finished = subprocess.run(
        ["node", str(ROOT / "tests" / "browser_js" / "seal_cli.mjs")],
        input=json.dumps(requests),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    envelopes = [base64.b64decode(text) for text in json.loads(finished.stdout)]
    assert len(envelopes) == len(CASES)
    for (kind, name, content_type, content), envelope in zip(CASES, envelopes, strict=True):
        metadata = EnvelopeMetadata(kind=kind, name=name, content_type=content_type)
        for key in keys:
            opened_metadata, opened = open_bytes(envelope, [key])
            assert opened_metadata == metadata
            assert opened == content
        python_sealed = seal_bytes(content, publics, metadata)
        assert len(envelope) == len(python_sealed)
        assert envelope[:9] == python_sealed[:9]
        for index, public in enumerate(publics):
            assert envelope[9 + 96 * index : 25 + 96 * index] == key_id(bytes(public))
        assert _chunk_lengths(envelope, 3) == _chunk_lengths(python_sealed, 3)
        assert envelope[9:] != python_sealed[9:]
