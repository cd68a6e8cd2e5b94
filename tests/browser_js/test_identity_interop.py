"""The browser puts identity details in the host's standard form (source_app/identity.py).

Where the host accepts a value, the browser gives the same standard form; where the host
refuses it, the browser refuses it too (and leaves the form to the host, which explains).
The only deliberate difference: an e-mail domain outside ASCII, which the browser leaves
to the host rather than risk another IDNA mapping.
"""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from source_app.identity import (
    InvalidDetail,
    normalise_city,
    normalise_email,
    normalise_full_name,
    normalise_national_id,
    normalise_phone,
)

ROOT = Path(__file__).parents[2]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

CASES: dict[str, tuple[Callable[[str], str], list[str]]] = {
    "full_name": (normalise_full_name, [
        "  Amina   Benali ", "سلمى  بنعلي", "e\u0301lodie", "1234", "x\u202ey", "زينب\u200cاحمد",
    ]),
    "national_id": (normalise_national_id, [
        "ab 123456", "AB-123456", "ب123", "A١٢٣٤٥٦", "abc12345", "Ｂ１２３",
    ]),
    "phone": (normalise_phone, [
        "06 12 34 56 78", "+212 6 12 34 56 78", "00212612345678", "+212 06 12 34 56 78",
        "٠٦١٢٣٤٥٦٧٨", "212612345678", "+33 1 23 45 67 89", "0412345678", "12", "+2126123",
    ]),
    "email": (normalise_email, [
        "Amina@Example.MA", "a..b@x.ma", "name@example", "name@exa_mple.com", "x@1.2.3.4",
        " user+tag@Sub.Domain.ORG. ", "@x.ma", "لينا@example.ma",
    ]),
    "city": (normalise_city, ["  Fès ", "الدار   البيضاء", "123", "Tanger\u200e"]),
}  # fmt: skip


def _python(normalise: Callable[[str], str], value: str) -> str | None:
    try:
        return normalise(value.strip())
    except InvalidDetail:
        return None


def test_identity_details_match_the_public_host() -> None:
    request = {kind: values for kind, (_, values) in CASES.items()}
    finished = subprocess.run(
        ["node", str(ROOT / "tests" / "browser_js" / "identity_cli.mjs")],
        input=json.dumps(request),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    browser = json.loads(finished.stdout)
    for kind, (normalise, values) in CASES.items():
        assert browser[kind] == [_python(normalise, value) for value in values], kind
