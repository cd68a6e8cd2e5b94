"""Receipt codes: generation, what people type, and the secrets derived from a code."""

import hashlib
import re

import nacl.bindings
import nacl.pwhash.argon2id
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.errors import InvalidReceiptCode
from crypto.receipt import ReceiptCode, derive_reporter_secrets

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
    assert first.lookup_hash == again.lookup_hash
    assert bytes(first.private_key) == bytes(again.private_key)
    other = derive_reporter_secrets(ReceiptCode("01234567890123456788"))
    assert other.lookup_hash != first.lookup_hash
    assert bytes(other.private_key) != bytes(first.private_key)
    assert first.lookup_hash != bytes(first.private_key)


def test_derivation_matches_the_spec() -> None:
    """The known answer in docs/envelope.md, and the construction the browser repeats."""
    secrets = derive_reporter_secrets(ReceiptCode.parse("0123 4567 8901 2345 6789"))
    assert secrets.lookup_hash.hex() == (
        "5fe279448c7d0d1c3b05436eadc404e94907f85bc7cfbd38bafc70b4d3a0e4d0"
    )
    assert bytes(secrets.private_key.public_key).hex() == (
        "8598e2281a87c62fc908a13da23c860d2948139126d4dcd217aa8081a78b8e39"
    )

    output = nacl.pwhash.argon2id.kdf(
        64,
        b"01234567890123456789",
        b"iblagh-receipt/1",
        opslimit=2,
        memlimit=64 * 1024 * 1024,
    )
    assert output[:32] == secrets.lookup_hash
    # crypto_box_seed_keypair: the secret key is the first half of SHA-512(seed).
    secret_key = hashlib.sha512(output[32:]).digest()[:32]
    assert bytes(secrets.private_key) == secret_key
    assert nacl.bindings.crypto_scalarmult_base(secret_key) == bytes(secrets.private_key.public_key)


def test_repr_hides_the_digits() -> None:
    code = ReceiptCode("01234567890123456789")
    secrets = derive_reporter_secrets(code)
    for shown in (repr(code), str(code), f"{code}", repr(secrets), str(secrets), repr([code])):
        assert "0123" not in shown
        assert secrets.lookup_hash.hex()[:8] not in shown
