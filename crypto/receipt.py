"""Receipt codes: twenty random digits, and the reporter secrets derived from them.

A code is what a reporter keeps to come back. Version 2 of the derivation (the spec
is docs/receipt.md, its vectors tests/vectors/receipt_v2.json) stretches the code
once with argon2id into a master key, then splits the master key with libsodium's KDF
(``crypto_kdf_derive_from_key``) into three independent subkeys:

1. the **lookup value**, which a reporter's browser sends instead of the code;
2. the seed of the reporter's **X25519 key pair**, whose public half the public host
   stores so officers can encrypt replies;
3. the seed of the reporter's **Ed25519 signing key**, whose verify key travels sealed
   in the first report so that follow-ups can be signed.

The public host stores neither the code nor the lookup value, only
:func:`lookup_hash` of the value: a stolen database does not let its thief present
the stored value and act as the reporter.
"""

import secrets
from dataclasses import dataclass
from typing import Final

import nacl.hash
import nacl.pwhash.argon2id
from nacl.encoding import RawEncoder
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from crypto.errors import InvalidReceiptCode

RECEIPT_VERSION: Final = 2
DIGITS: Final = 20
GROUP: Final = 4
# Protocol constants (docs/receipt.md): changing any of them makes every issued code
# unusable, so a change is a new RECEIPT_VERSION. The salt is fixed, exactly 16 bytes,
# so that the browser derives the same keys.
DERIVATION_SALT: Final = b"iblagh-receipt/2"
ARGON2_OPSLIMIT: Final = nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE
ARGON2_MEMLIMIT: Final = nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
MASTER_KEY_BYTES: Final = 32
# crypto_kdf_derive_from_key's context: exactly 8 bytes.
KDF_CONTEXT: Final = b"receipt2"
LOOKUP_SUBKEY_ID: Final = 1
BOX_SEED_SUBKEY_ID: Final = 2
SIGNING_SEED_SUBKEY_ID: Final = 3
SUBKEY_BYTES: Final = 32
LOOKUP_VALUE_BYTES: Final = 32
LOOKUP_HASH_PREFIX: Final = b"iblagh-lookup/2"
LOOKUP_HASH_BYTES: Final = 32

# BLAKE2b's salt and personalisation parameters are 16 bytes each.
_BLAKE2B_PARAMETER_BYTES: Final = 16
_KDF_CONTEXT_BYTES: Final = 8

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
        """A new code from the operating system's CSPRNG (about 66 bits), each digit unbiased."""
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
    """What a receipt code opens: the lookup value and the reporter's two key pairs."""

    lookup_value: bytes
    private_key: PrivateKey
    signing_key: SigningKey

    @property
    def lookup_hash(self) -> bytes:
        """What the public host stores to find this reporter: :func:`lookup_hash`."""
        return lookup_hash(self.lookup_value)

    @property
    def public_key(self) -> PublicKey:
        """The reporter's X25519 public key: replies are sealed to it."""
        return self.private_key.public_key

    @property
    def verify_key(self) -> VerifyKey:
        """The reporter's Ed25519 verify key: it checks signed follow-ups."""
        return self.signing_key.verify_key

    def __repr__(self) -> str:
        return "ReporterSecrets(<hidden>)"

    __str__ = __repr__


def derive_master_key(code: ReceiptCode) -> bytes:
    """argon2id over the code's twenty ASCII digits: the one slow step, 32 bytes."""
    return nacl.pwhash.argon2id.kdf(
        MASTER_KEY_BYTES,
        code.digits.encode("ascii"),
        DERIVATION_SALT,
        opslimit=ARGON2_OPSLIMIT,
        memlimit=ARGON2_MEMLIMIT,
    )


def kdf_derive_from_key(master_key: bytes, subkey_id: int, context: bytes = KDF_CONTEXT) -> bytes:
    """libsodium's ``crypto_kdf_derive_from_key`` (32-byte subkey), through PyNaCl's BLAKE2b.

    PyNaCl has no binding for crypto_kdf. libsodium computes it as keyed BLAKE2b of the
    empty message, with the subkey id as the first 8 bytes (little-endian) of the salt
    and the context as the first 8 bytes of the personalisation, both zero-padded; the
    receipt vectors check the two agree against libsodium-wrappers in Node.
    """
    if len(master_key) != MASTER_KEY_BYTES:
        raise ValueError("a KDF master key is 32 bytes")
    if len(context) != _KDF_CONTEXT_BYTES:
        raise ValueError("a KDF context is 8 bytes")
    if not 0 <= subkey_id < 2**64:
        raise ValueError("a KDF subkey id is an unsigned 64-bit integer")
    return nacl.hash.blake2b(
        b"",
        digest_size=SUBKEY_BYTES,
        key=master_key,
        salt=subkey_id.to_bytes(8, "little").ljust(_BLAKE2B_PARAMETER_BYTES, b"\0"),
        person=context.ljust(_BLAKE2B_PARAMETER_BYTES, b"\0"),
        encoder=RawEncoder,
    )


def secrets_from_master_key(master_key: bytes) -> ReporterSecrets:
    """Split a master key into the lookup value and the two key pairs (docs/receipt.md)."""
    return ReporterSecrets(
        lookup_value=kdf_derive_from_key(master_key, LOOKUP_SUBKEY_ID),
        # crypto_box_seed_keypair: the secret key is SHA-512(seed)[0:32], not the seed.
        private_key=PrivateKey.from_seed(kdf_derive_from_key(master_key, BOX_SEED_SUBKEY_ID)),
        # crypto_sign_seed_keypair.
        signing_key=SigningKey(kdf_derive_from_key(master_key, SIGNING_SEED_SUBKEY_ID)),
    )


def derive_reporter_secrets(code: ReceiptCode) -> ReporterSecrets:
    """Everything a code opens: one argon2id, then three KDF subkeys."""
    return secrets_from_master_key(derive_master_key(code))


def lookup_hash(lookup_value: bytes) -> bytes:
    """SHA-256("iblagh-lookup/2" || lookup value): what the public host stores and searches.

    The host computes it both from a lookup value a browser sent and from a code typed
    into the form without JavaScript. Raises :class:`InvalidReceiptCode` for a value
    that is not 32 bytes.
    """
    if len(lookup_value) != LOOKUP_VALUE_BYTES:
        raise InvalidReceiptCode("a lookup value is 32 bytes")
    return nacl.hash.sha256(LOOKUP_HASH_PREFIX + lookup_value, encoder=RawEncoder)
