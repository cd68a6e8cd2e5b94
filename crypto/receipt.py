"""Receipt codes: twenty random digits, and the reporter secrets derived from them.

A code is what a reporter keeps to come back. argon2id turns it into two values:
a lookup hash the public host stores to find the reporter's submissions, and the
seed of the reporter's X25519 key pair, whose public half the public host stores so
officers can encrypt replies. The code itself is never stored.
"""

import secrets
from dataclasses import dataclass
from typing import Final

import nacl.pwhash.argon2id
from nacl.public import PrivateKey

from crypto.errors import InvalidReceiptCode

DIGITS: Final = 20
GROUP: Final = 4
# Fixed by the protocol so the browser derives the same keys; exactly 16 bytes.
DERIVATION_SALT: Final = b"iblagh-receipt/1"
# Protocol constants: changing them makes every issued code unusable.
ARGON2_OPSLIMIT: Final = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
ARGON2_MEMLIMIT: Final = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
LOOKUP_HASH_BYTES: Final = 32

# Western, Arabic-Indic (U+0660..) and Eastern Arabic-Indic (U+06F0..) digits.
_DIGIT_MAP: Final = {
    **{chr(0x30 + d): str(d) for d in range(10)},
    **{chr(0x660 + d): str(d) for d in range(10)},
    **{chr(0x6F0 + d): str(d) for d in range(10)},
}
# What people type between groups: spaces of every kind, dashes, dots, directional marks.
_SEPARATORS: Final = frozenset(
    " \t\r\n\u00a0\u2009\u202f\u3000-\u2010\u2011\u2012\u2013\u2014\u2212._\u200e\u200f\u061c"
)


@dataclass(frozen=True)
class ReceiptCode:
    """A normalised receipt code: exactly twenty ASCII digits."""

    digits: str

    def __post_init__(self) -> None:
        if len(self.digits) != DIGITS or not self.digits.isascii() or not self.digits.isdigit():
            raise InvalidReceiptCode("a receipt code is twenty digits")

    @classmethod
    def generate(cls) -> "ReceiptCode":
        """A new code from the operating system's CSPRNG (about 66 bits)."""
        return cls("".join(str(secrets.randbelow(10)) for _ in range(DIGITS)))

    @classmethod
    def parse(cls, text: str) -> "ReceiptCode":
        """Normalise what a person typed: any of the three digit sets, spaces and dashes."""
        digits = []
        for char in text:
            if char in _DIGIT_MAP:
                digits.append(_DIGIT_MAP[char])
            elif char not in _SEPARATORS:
                raise InvalidReceiptCode("a receipt code holds only digits")
        return cls("".join(digits))

    def grouped(self) -> str:
        """Five groups of four digits, as shown to the reporter."""
        return " ".join(self.digits[i : i + GROUP] for i in range(0, DIGITS, GROUP))

    def __repr__(self) -> str:
        return "ReceiptCode(<hidden>)"

    __str__ = __repr__


@dataclass(frozen=True)
class ReporterSecrets:
    """What a receipt code opens: the lookup hash and the reporter's key pair."""

    lookup_hash: bytes
    private_key: PrivateKey

    def __repr__(self) -> str:
        return "ReporterSecrets(<hidden>)"


def derive_reporter_secrets(code: ReceiptCode) -> ReporterSecrets:
    """argon2id(code) -> 64 bytes: the first 32 are the lookup hash, the last 32 the key seed."""
    output = nacl.pwhash.argon2id.kdf(
        2 * LOOKUP_HASH_BYTES,
        code.digits.encode("ascii"),
        DERIVATION_SALT,
        opslimit=ARGON2_OPSLIMIT,
        memlimit=ARGON2_MEMLIMIT,
    )
    return ReporterSecrets(
        lookup_hash=output[:LOOKUP_HASH_BYTES],
        private_key=PrivateKey.from_seed(output[LOOKUP_HASH_BYTES:]),
    )
