"""The browser names and types attachments exactly as the public host does.

source_app/static/js/attachments.js against source_app/attachments.py, on names and
file heads chosen to cross every rule: a browser-sealed file's metadata must not tell
the officer which side sealed it.
"""

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from source_app.attachments import sanitise_file_name, sniff_media_type

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

NAMES = [
    "photo.jpg", "لقطة شاشة.png", "C:\\Users\\me\\Desktop\\proof.pdf", "../../etc/passwd",
    "gpj.\u202eexe.jpg", "  spaced\u00a0\u2009out  .txt", "tab\there\nnewline.doc",
    "a<b>c:d\"e|f?g*h.txt", "...hidden", "CON.txt", "lpt1", "", "   ", "e\u0301te\u0301.png",
    "x" * 300 + ".jpeg", "ب" * 150 + ".png", "y" * 250, "name." + "z" * 20,
    "zero\u200bwidth.png", "emoji😀file.gif", "nul.tar.gz",
]  # fmt: skip
HEADS = [
    b"\x89PNG\r\n\x1a\n" + bytes(20), b"\xff\xd8\xff\xe0", b"GIF89a", b"II*\x00",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftyp3gp5", b"\x00\x00\x00\x18ftypisom",
    b"OggS" + bytes(30) + b"theora", b"OggS" + bytes(30), b"PK\x03\x04" + bytes(26)
    + b"mimetypeapplication/vnd.oasis.opendocument.text", b"PK\x03\x04" + bytes(40) + b"word/x",
    b"PK\x03\x04" + bytes(10), b"BM" + bytes(30), b"\xff\xfb\x90", b"\x1aE\xdf\xa3" + b"webm",
    b"\x1aE\xdf\xa3" + bytes(10), b"%PDF-1.7", b"MZ\x90", "نص عربي\n".encode(),
    "text with a cut char \u00e9".encode()[:-1], b"bin\x00ary", b"", b"\x80abc",
    b"plain text\tand\r\n\x0c",
]  # fmt: skip


def test_names_and_types_match_the_public_host() -> None:
    request = {"names": NAMES, "heads": [base64.b64encode(head).decode() for head in HEADS]}
    finished = subprocess.run(
        ["node", str(ROOT / "tests" / "browser_js" / "attachment_cli.mjs")],
        input=json.dumps(request),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    browser = json.loads(finished.stdout)
    assert browser["names"] == [sanitise_file_name(name) for name in NAMES]
    assert browser["types"] == [sniff_media_type(head) for head in HEADS]
