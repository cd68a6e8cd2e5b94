"""Receipt codes: generation, what people type, and the secrets derived from a code (v2).

The vectors in tests/vectors/receipt_v2.json also run in Node (tests/browser_js/).
"""

import base64
import hashlib
import json
import re
import runpy
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import InvalidReceiptCode
from crypto.receipt import (
    ARGON2_MEMLIMIT,
    ARGON2_OPSLIMIT,
    DERIVATION_SALT,
    KDF_CONTEXT,
    LOOKUP_HASH_PREFIX,
    RECEIPT_VERSION,
    ReceiptCode,
    derive_master_key,
    derive_reporter_secrets,
    kdf_derive_from_key,
    lookup_hash,
)

VECTORS_FILE = Path(__file__).parents[1] / "vectors" / "receipt_v2.json"
VECTORS: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))

SETTINGS = settings(max_examples=200, deadline=None)
ARABIC_INDIC = 0x660  # ٠١٢٣٤٥٦٧٨٩
EASTERN_ARABIC_INDIC = 0x6F0  # ۰۱۲۳۴۵۶۷۸۹
DIGITS = frozenset(
    chr(base + d) for base in (0x30, ARABIC_INDIC, EASTERN_ARABIC_INDIC) for d in range(10)
)
# As docs/envelope.md lists them: spaces (incl. no-break, thin, ideographic), dashes,
# dots, and the direction marks an RTL keyboard or a copy-paste adds (LRM, RLM, ALM).
SEPARATORS = (
    " \t\r\n\u00a0\u2009\u202f\u3000-\u2010\u2011\u2012\u2013\u2014\u2212._\u200e\u200f\u061c"
)

codes = st.text(alphabet="0123456789", min_size=20, max_size=20)


def test_generate_gives_twenty_ascii_digits() -> None:
    generated = {ReceiptCode.generate().digits for _ in range(20)}
    assert len(generated) == 20
    for digits in generated:
        assert re.fullmatch(r"[0-9]{20}", digits)


def test_grouped_is_five_groups_of_four() -> None:
    code = ReceiptCode("01234567890123456789")
    assert code.grouped() == "0123 4567 8901 2345 6789"
    assert ReceiptCode.parse(code.grouped()) == code


@pytest.mark.parametrize(
    "typed",
    [
        "٠١٢٣ ٤٥٦٧ ٨٩٠١ ٢٣٤٥ ٦٧٨٩",
        "۰۱۲۳-۴۵۶۷-۸۹۰۱-۲۳۴۵-۶۷۸۹",
        "0١2۳ ٤5۶7\u00a08٩0۱\u200f2٣4۵ 67٨9",
        "\u200f٠١٢٣\u200f \u200f٤٥٦٧\u200f \u200f٨٩٠١\u200f \u200f٢٣٤٥\u200f \u200f٦٧٨٩\u200f",
        " 0123.4567.8901.2345.6789\n",
    ],
    ids=["arabic-indic", "eastern-arabic-indic", "mixed", "rlm-marks", "dots"],
)
def test_parse_accepts_every_digit_script(typed: str) -> None:
    assert ReceiptCode.parse(typed).digits == "01234567890123456789"


@SETTINGS
@given(
    code=codes,
    scripts=st.lists(
        st.sampled_from([0x30, ARABIC_INDIC, EASTERN_ARABIC_INDIC]), min_size=20, max_size=20
    ),
    gaps=st.lists(st.text(alphabet=SEPARATORS, max_size=3), min_size=21, max_size=21),
)
def test_parse_gives_back_the_code_whatever_the_script_and_separators(
    code: str, scripts: list[int], gaps: list[str]
) -> None:
    typed = gaps[0] + "".join(
        chr(script + int(digit)) + gap
        for digit, script, gap in zip(code, scripts, gaps[1:], strict=True)
    )
    assert ReceiptCode.parse(typed).digits == code


@SETTINGS
@given(
    code=codes,
    position=st.integers(0, 20),
    intruder=st.characters(blacklist_categories=["Cs"]).filter(
        lambda c: c not in DIGITS and c not in SEPARATORS
    ),
)
def test_parse_rejects_anything_but_digits_and_separators(
    code: str, position: int, intruder: str
) -> None:
    with pytest.raises(InvalidReceiptCode):
        ReceiptCode.parse(code[:position] + intruder + code[position:])


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "0123 4567 8901 2345 678",  # 19 digits
        "0123 4567 8901 2345 67890",  # 21 digits
        "0123 4567 8901 2345 678O",  # a letter O
        "٠١٢٣ ٤٥٦٧ ٨٩٠١ ٢٣٤٥ ٦٧٨",  # 19 Arabic-Indic digits
        "０１２３４５６７８９０１２３４５６７８９",  # fullwidth digits
        "०१२३४५६७८९०१२३४५६७८९",  # Devanagari digits
        "0123+4567+8901+2345+6789",
    ],
)
def test_parse_rejects_wrong_codes(typed: str) -> None:
    with pytest.raises(InvalidReceiptCode):
        ReceiptCode.parse(typed)


@pytest.mark.parametrize("digits", ["٠" * 20, "1" * 19, "1" * 21, "1234567890123456789a"])
def test_constructor_takes_only_normalised_codes(digits: str) -> None:
    with pytest.raises(InvalidReceiptCode):
        ReceiptCode(digits)


def test_derivation_is_deterministic_and_differs_between_codes() -> None:
    code = ReceiptCode("01234567890123456789")
    first, again = derive_reporter_secrets(code), derive_reporter_secrets(code)
    assert first.lookup_value == again.lookup_value
    assert bytes(first.private_key) == bytes(again.private_key)
    assert bytes(first.signing_key) == bytes(again.signing_key)
    other = derive_reporter_secrets(ReceiptCode("01234567890123456788"))
    assert other.lookup_value != first.lookup_value
    assert bytes(other.private_key) != bytes(first.private_key)
    assert bytes(other.signing_key) != bytes(first.signing_key)
    # Three independent subkeys, and the stored hash is not the value a browser sends.
    subkeys = {first.lookup_value, bytes(first.private_key), bytes(first.signing_key)}
    assert len(subkeys | {first.lookup_hash}) == 4


def test_derivation_matches_the_spec() -> None:
    """The known answer in docs/receipt.md, and the construction the browser repeats."""
    secrets = derive_reporter_secrets(ReceiptCode.parse("0123 4567 8901 2345 6789"))
    assert secrets.lookup_value.hex() == (
        "d5dff265c11210e04b0385b8cc79a527ee957a4d7c723f78d3fa7f2e98aa19e2"
    )
    assert secrets.lookup_hash.hex() == (
        "cb665914ba33c7617dc234e059a20871e9e5340d5ff5d0c815c64f3767aec0ea"
    )
    assert bytes(secrets.public_key).hex() == (
        "cccffc776d50efa711da282f9ca82a6f18e260b42181786b52053f83c6b5d53f"
    )
    assert bytes(secrets.verify_key).hex() == (
        "44b14c8e92642ede14551f4ff3bd5f453f19923bfc1559b2bb2a9f54dff8f8b9"
    )

    master = nacl.pwhash.argon2id.kdf(
        32, b"01234567890123456789", b"iblagh-receipt/2", opslimit=2, memlimit=64 * 1024 * 1024
    )
    assert master == derive_master_key(ReceiptCode("01234567890123456789"))
    # crypto_kdf_derive_from_key: keyed BLAKE2b of nothing, id in the salt, context in
    # the personalisation (hashlib's BLAKE2b here, a second implementation).
    box_seed = hashlib.blake2b(
        b"",
        digest_size=32,
        key=master,
        salt=(2).to_bytes(8, "little") + bytes(8),
        person=b"receipt2" + bytes(8),
    ).digest()
    # crypto_box_seed_keypair: the secret key is the first half of SHA-512(seed).
    assert bytes(secrets.private_key) == hashlib.sha512(box_seed).digest()[:32]
    assert hashlib.sha256(b"iblagh-lookup/2" + secrets.lookup_value).digest() == (
        secrets.lookup_hash
    )


def test_the_version_1_derivation_is_gone() -> None:
    """v2 replaces v1 (docs/receipt.md, "Version 1"): a v1 lookup hash never matches."""
    assert RECEIPT_VERSION == 2
    secrets = derive_reporter_secrets(ReceiptCode("01234567890123456789"))
    v1_lookup_hash = "5fe279448c7d0d1c3b05436eadc404e94907f85bc7cfbd38bafc70b4d3a0e4d0"
    assert v1_lookup_hash not in (secrets.lookup_hash.hex(), secrets.lookup_value.hex())


@pytest.mark.parametrize(
    "vector", VECTORS["codes"], ids=[v["description"] for v in VECTORS["codes"]]
)
def test_vector(vector: dict[str, str]) -> None:
    code = ReceiptCode.parse(vector["typed"])
    assert code.digits == vector["digits"]
    assert derive_master_key(code).hex() == vector["master_key"]
    secrets = derive_reporter_secrets(code)
    assert secrets.lookup_value.hex() == vector["lookup_value"]
    assert base64.b64decode(vector["lookup_value_base64"]) == secrets.lookup_value
    assert secrets.lookup_hash.hex() == vector["lookup_hash"]
    assert lookup_hash(bytes.fromhex(vector["lookup_value"])).hex() == vector["lookup_hash"]
    assert bytes(secrets.private_key).hex() == vector["x25519_secret_key"]
    assert bytes(secrets.public_key).hex() == vector["x25519_public_key"]
    assert bytes(secrets.signing_key).hex() == vector["ed25519_seed"]
    assert bytes(secrets.verify_key).hex() == vector["ed25519_verify_key"]


@pytest.mark.parametrize(
    "vector", VECTORS["invalid_codes"], ids=[v["description"] for v in VECTORS["invalid_codes"]]
)
def test_invalid_vector(vector: dict[str, str]) -> None:
    with pytest.raises(InvalidReceiptCode):
        ReceiptCode.parse(vector["typed"])


@pytest.mark.parametrize(
    "vector", VECTORS["kdf"], ids=[str(v["subkey_id"]) for v in VECTORS["kdf"]]
)
def test_kdf_vector(vector: dict[str, Any]) -> None:
    master = bytes.fromhex(vector["master_key"])
    subkey = kdf_derive_from_key(master, vector["subkey_id"], vector["context"].encode("ascii"))
    assert subkey.hex() == vector["subkey"]


def test_vectors_file_is_what_the_generator_writes() -> None:
    generator = runpy.run_path(str(VECTORS_FILE.with_name("make_receipt_vectors.py")))
    assert generator["render"](generator["build"]()) == VECTORS_FILE.read_text(encoding="utf-8")


def test_vectors_name_the_constants_of_the_code() -> None:
    constants = VECTORS["constants"]
    assert constants["argon2id_salt"].encode() == DERIVATION_SALT
    assert (constants["argon2id_opslimit"], constants["argon2id_memlimit"]) == (
        ARGON2_OPSLIMIT,
        ARGON2_MEMLIMIT,
    )
    assert constants["kdf_context"].encode() == KDF_CONTEXT
    assert constants["lookup_hash_prefix"].encode() == LOOKUP_HASH_PREFIX
    assert VECTORS["version"] == RECEIPT_VERSION


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_lookup_hash_takes_only_a_32_byte_value(size: int) -> None:
    with pytest.raises(InvalidReceiptCode):
        lookup_hash(bytes(size))


@pytest.mark.parametrize(
    ("master", "subkey_id", "context"),
    [
        (bytes(31), 1, b"receipt2"),
        (bytes(32), -1, b"receipt2"),
        (bytes(32), 2**64, b"receipt2"),
        (bytes(32), 1, b"receipt"),
    ],
)
def test_kdf_refuses_wrong_parameters(master: bytes, subkey_id: int, context: bytes) -> None:
    with pytest.raises(ValueError):
        kdf_derive_from_key(master, subkey_id, context)


def test_repr_hides_the_digits() -> None:
    code = ReceiptCode("01234567890123456789")
    secrets = derive_reporter_secrets(code)
    for shown in (repr(code), str(code), f"{code}", repr(secrets), str(secrets), repr([code])):
        assert "0123" not in shown
        assert secrets.lookup_hash.hex()[:8] not in shown
        assert secrets.lookup_value.hex()[:8] not in shown
