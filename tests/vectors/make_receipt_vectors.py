"""Generate tests/vectors/receipt_v2.json, the receipt derivation v2 test vectors.

Run by hand from the repository root when the vectors need to change:

    .venv/bin/python tests/vectors/make_receipt_vectors.py

The derivation is deterministic, so every run writes the same file (a test checks
that). The values are computed here from docs/receipt.md with the primitives called
directly (argon2id, keyed BLAKE2b with salt and personalisation, SHA-256, the seed
key-pair functions), not through crypto/receipt.py, and every vector is then checked
against crypto.receipt before it is written: the two must agree. The browser's
reader (source_app/static/js/receipt.js, tests/browser_js/) runs the same file and
uses libsodium's own crypto_kdf_derive_from_key, so its passing also shows the BLAKE2b
construction used here is that function.
"""

import base64
import hashlib
import json
import sys
from pathlib import Path

import nacl.bindings as sodium
import nacl.pwhash.argon2id
from nacl.encoding import RawEncoder
from nacl.hash import blake2b

from crypto.errors import InvalidReceiptCode
from crypto.receipt import (
    ReceiptCode,
    derive_master_key,
    derive_reporter_secrets,
    kdf_derive_from_key,
)
from crypto.receipt import lookup_hash as receipt_lookup_hash

OUTPUT = Path(__file__).with_name("receipt_v2.json")

SALT = b"iblagh-receipt/2"
OPSLIMIT = 2
MEMLIMIT = 67108864
CONTEXT = b"receipt2"
LOOKUP_ID, BOX_SEED_ID, SIGNING_SEED_ID = 1, 2, 3
LOOKUP_PREFIX = b"iblagh-lookup/2"

# What a person might type, and the twenty digits it must normalise to.
CODES = [
    ("western digits in groups", "0123 4567 8901 2345 6789", "01234567890123456789"),
    ("Arabic-Indic digits", "٠١٢٣ ٤٥٦٧ ٨٩٠١ ٢٣٤٥ ٦٧٨٩", "01234567890123456789"),
    ("Eastern Arabic-Indic digits with dashes", "۹۸۷۶-۵۴۳۲-۱۰۹۸-۷۶۵۴-۳۲۱۰", "98765432109876543210"),
    (
        "mixed scripts, no-break space, RLM and ALM",
        "\u200f4٤0۷ 1\u00a0٩2۸3\u061c5 ٥6۶7 8٨9۹0٠",
        "44071928355667889900",
    ),
    ("all zeros, dots", "0000.0000.0000.0000.0000", "00000000000000000000"),
    ("all nines, no separators", "99999999999999999999", "99999999999999999999"),
]

# Typed codes every implementation must refuse.
INVALID = [
    ("empty", ""),
    ("19 digits", "0123 4567 8901 2345 678"),
    ("21 digits", "0123 4567 8901 2345 67890"),
    ("a letter O", "0123 4567 8901 2345 678O"),
    ("fullwidth digits", "０１２３４５６７８９０１２３４５６７８９"),
    ("Devanagari digits", "०१२३४५६७८९०१२३४५६७८९"),
    ("plus signs", "0123+4567+8901+2345+6789"),
    ("an emoji (outside the BMP)", "0123 4567 8901 2345 6789\U0001f600"),
]

# Raw crypto_kdf_derive_from_key answers, master key 00 01 … 1f.
KDF_MASTER = bytes(range(32))
KDF_IDS = [0, 1, 2, 3, 2**32 + 1]


def kdf(master: bytes, subkey_id: int) -> bytes:
    """crypto_kdf_derive_from_key as libsodium defines it (crypto_kdf/blake2b)."""
    return blake2b(
        b"",
        digest_size=32,
        key=master,
        salt=subkey_id.to_bytes(8, "little") + bytes(8),
        person=CONTEXT + bytes(8),
        encoder=RawEncoder,
    )


def code_vector(description: str, typed: str, digits: str) -> dict[str, object]:
    master = nacl.pwhash.argon2id.kdf(
        32, digits.encode("ascii"), SALT, opslimit=OPSLIMIT, memlimit=MEMLIMIT
    )
    lookup_value = kdf(master, LOOKUP_ID)
    box_seed = kdf(master, BOX_SEED_ID)
    signing_seed = kdf(master, SIGNING_SEED_ID)
    box_public, box_secret = sodium.crypto_box_seed_keypair(box_seed)
    sign_public, _ = sodium.crypto_sign_seed_keypair(signing_seed)
    vector: dict[str, object] = {
        "description": description,
        "typed": typed,
        "digits": digits,
        "master_key": master.hex(),
        "lookup_value": lookup_value.hex(),
        "lookup_value_base64": base64.b64encode(lookup_value).decode("ascii"),
        "lookup_hash": hashlib.sha256(LOOKUP_PREFIX + lookup_value).hexdigest(),
        "x25519_seed": box_seed.hex(),
        "x25519_secret_key": box_secret.hex(),
        "x25519_public_key": box_public.hex(),
        "ed25519_seed": signing_seed.hex(),
        "ed25519_verify_key": sign_public.hex(),
    }
    check_against_crypto_receipt(vector)
    return vector


def check_against_crypto_receipt(vector: dict[str, object]) -> None:
    code = ReceiptCode.parse(str(vector["typed"]))
    assert code.digits == vector["digits"]
    assert derive_master_key(code).hex() == vector["master_key"]
    secrets = derive_reporter_secrets(code)
    assert secrets.lookup_value.hex() == vector["lookup_value"]
    assert secrets.lookup_hash.hex() == vector["lookup_hash"]
    assert receipt_lookup_hash(secrets.lookup_value).hex() == vector["lookup_hash"]
    assert bytes(secrets.private_key).hex() == vector["x25519_secret_key"]
    assert bytes(secrets.public_key).hex() == vector["x25519_public_key"]
    assert bytes(secrets.signing_key).hex() == vector["ed25519_seed"]
    assert bytes(secrets.verify_key).hex() == vector["ed25519_verify_key"]


def build() -> dict[str, object]:
    for _, typed in INVALID:
        try:
            ReceiptCode.parse(typed)
        except InvalidReceiptCode:
            continue
        raise AssertionError(f"{typed!r} should be refused")
    kdf_vectors = []
    for subkey_id in KDF_IDS:
        subkey = kdf(KDF_MASTER, subkey_id)
        assert kdf_derive_from_key(KDF_MASTER, subkey_id) == subkey
        kdf_vectors.append(
            {
                "master_key": KDF_MASTER.hex(),
                "subkey_id": subkey_id,
                "context": CONTEXT.decode("ascii"),
                "subkey": subkey.hex(),
            }
        )
    return {
        "version": 2,
        "spec": "docs/receipt.md",
        "constants": {
            "argon2id_salt": SALT.decode("ascii"),
            "argon2id_opslimit": OPSLIMIT,
            "argon2id_memlimit": MEMLIMIT,
            "master_key_bytes": 32,
            "kdf_context": CONTEXT.decode("ascii"),
            "lookup_subkey_id": LOOKUP_ID,
            "x25519_seed_subkey_id": BOX_SEED_ID,
            "ed25519_seed_subkey_id": SIGNING_SEED_ID,
            "lookup_hash_prefix": LOOKUP_PREFIX.decode("ascii"),
        },
        "codes": [code_vector(*entry) for entry in CODES],
        "invalid_codes": [{"description": d, "typed": t} for d, t in INVALID],
        "kdf": kdf_vectors,
    }


def render(vectors: dict[str, object]) -> str:
    return json.dumps(vectors, ensure_ascii=False, indent=1) + "\n"


def main() -> int:
    OUTPUT.write_text(render(build()), encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
