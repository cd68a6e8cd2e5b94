"""Write tests/vectors/body_v2.json: report body version 2 wrappers (docs/envelope.md).

Deterministic (Ed25519 signatures are): run by hand from the repository root with
``.venv/bin/python tests/vectors/make_body_vectors.py``; a test checks the file is what
this script writes. The signed bytes are built from the document's text, not from
``crypto/contents.py``, and every vector is checked against it before writing.
"""

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from crypto.contents import ContentError, ReportBody
from crypto.receipt import ReceiptCode, derive_reporter_secrets

OUT = Path(__file__).with_name("body_v2.json")
PREFIX = b"iblagh-body/2"
CODE = "0123 4567 8901 2345 6789"
OTHER_CODE = "9876 5432 1098 7654 3210"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def wrapper(content: str, key: SigningKey) -> tuple[str, bytes, bytes]:
    signed = PREFIX + content.encode("utf-8")
    signature = key.sign(signed).signature
    text = json.dumps({"v": 2, "content": content, "signature": b64(signature)}, ensure_ascii=False)
    return text, signed, signature


def document(kind: str, binding: bytes, identity_envelope: bytes | None, vk: bytes) -> str:
    return json.dumps(
        {
            "v": 2,
            "category": "followup" if kind == "followup" else "terrorism",
            "urls": ["https://t.me/channel/42"] if kind == "report" else [],
            "description": "وصف البلاغ" if kind == "report" else "مزيد من المعلومات",
            "language": "ar",
            "platform": "Telegram" if kind == "report" else "",
            "account": "@channel" if kind == "report" else "",
            "seen_on": "2026-11-27" if kind == "report" else "",
            "good_faith": True,
            "attachments": [
                {
                    "blob": "attachment-1",
                    "name": "لقطة شاشة.png",
                    "type": "image/png",
                    "size": 5,
                    "sha256": hashlib.sha256(b"hello").hexdigest(),
                }
            ]
            if kind == "report"
            else [],
            "reporter_public_key": b64(bytes(range(32))),
            "binding": b64(binding),
            "identity": None
            if identity_envelope is None
            else {"sha256": hashlib.sha256(identity_envelope).hexdigest()},
            "reporter_verify_key": b64(vk),
        },
        ensure_ascii=False,
    )


def main() -> None:
    secrets = derive_reporter_secrets(ReceiptCode.parse(CODE))
    other = derive_reporter_secrets(ReceiptCode.parse(OTHER_CODE))
    key = secrets.signing_key
    vk = bytes(key.verify_key)
    good: list[dict[str, Any]] = []
    bad: list[dict[str, Any]] = []
    for kind, binding, identity in (
        ("report", bytes(range(100, 132)), b"stands for the identity envelope's bytes"),
        ("followup", bytes(range(200, 232)), None),
    ):
        content = document(kind, binding, identity, vk)
        text, signed, signature = wrapper(content, key)
        good.append(
            {
                "description": f"a {kind} body",
                "kind": kind,
                "body": text,
                "content": content,
                "signed_hex": signed.hex(),
                "verify_key": vk.hex(),
                "signature": signature.hex(),
                "binding": b64(binding),
                "identity_sha256": None
                if identity is None
                else hashlib.sha256(identity).hexdigest(),
            }
        )
        flipped = bytearray(signature)
        flipped[0] ^= 1
        bad.append(
            {
                "description": f"{kind}: flipped signature",
                "body": json.dumps(
                    {"v": 2, "content": content, "signature": b64(bytes(flipped))},
                    ensure_ascii=False,
                ),
                "verify_key": vk.hex(),
                "error": "BadSignature",
            }
        )
        bad.append(
            {
                "description": f"{kind}: content changed after signing",
                "body": json.dumps(
                    {
                        "v": 2,
                        "content": content.replace("ar", "fr", 1),
                        "signature": b64(signature),
                    },
                    ensure_ascii=False,
                ),
                "verify_key": vk.hex(),
                "error": "BadSignature",
            }
        )
        bad.append(
            {
                "description": f"{kind}: signed with another code's key",
                "body": wrapper(content, other.signing_key)[0],
                "verify_key": vk.hex(),
                "error": "BadSignature",
            }
        )
    bad.append(
        {
            "description": "signature of 63 bytes",
            "body": json.dumps(
                {"v": 2, "content": good[0]["content"], "signature": b64(b"x" * 63)}
            ),
            "verify_key": vk.hex(),
            "error": "ContentError",
        }
    )
    bad.append(
        {
            "description": "content without a binding",
            "body": wrapper(
                json.dumps(
                    {k: v for k, v in json.loads(good[0]["content"]).items() if k != "binding"}
                ),
                key,
            )[0],
            "verify_key": vk.hex(),
            "error": "ContentError",
        }
    )
    for vector in good:
        body = ReportBody.from_json(vector["body"].encode("utf-8"))
        assert body.signature_valid(bytes.fromhex(vector["verify_key"]))
        assert body.binding == vector["binding"]
        assert body.identity_sha256 == vector["identity_sha256"]
    for vector in bad:
        try:
            body = ReportBody.from_json(vector["body"].encode("utf-8"))
        except ContentError:
            assert vector["error"] == "ContentError", vector["description"]
            continue
        assert vector["error"] == "BadSignature", vector["description"]
        assert not body.signature_valid(bytes.fromhex(vector["verify_key"]))
    out = {
        "version": 2,
        "spec": "docs/envelope.md#report-body-version-2",
        "signature_prefix": PREFIX.decode("ascii"),
        "code": CODE,
        "good": good,
        "bad": bad,
    }
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
