"""Passphrase policy and checks: length rules, argon2id hashes, constant-time refusals.

Officers choose passphrases; the policy is length only (no composition rules, which push
people to predictable patterns) and never built around the username.
"""

import functools

import nacl.exceptions
import nacl.pwhash.argon2id

from crypto.keys import Argon2Params
from journalist_app.errors import WeakPassphrase

MIN_PASSPHRASE_LENGTH = 12
# Long enough for any passphrase a person types; short enough to bound argon2id's input.
MAX_PASSPHRASE_LENGTH = 1024


def hash_passphrase(passphrase: str, params: Argon2Params) -> bytes:
    return nacl.pwhash.argon2id.str(
        passphrase.encode("utf-8"), opslimit=params.opslimit, memlimit=params.memlimit
    )


def check_passphrase(passphrase: str, username: str = "") -> None:
    """Length only (no composition rules), and not built around the username."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakPassphrase(f"a passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")
    if len(passphrase) > MAX_PASSPHRASE_LENGTH:
        raise WeakPassphrase(f"a passphrase has at most {MAX_PASSPHRASE_LENGTH} characters")
    if username and username.casefold() in passphrase.casefold():
        raise WeakPassphrase("a passphrase must not contain the username")


def spend_dummy_check(passphrase: str, params: Argon2Params) -> None:
    """Spend one argon2id check's time on nothing, so a refusal takes as long as any other."""
    verify_passphrase(_dummy_hash(params.opslimit, params.memlimit), passphrase)


def verify_passphrase(password_hash: bytes, passphrase: str) -> bool:
    try:
        return bool(nacl.pwhash.argon2id.verify(password_hash, passphrase.encode("utf-8")))
    except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError):
        return False


@functools.cache
def _dummy_hash(opslimit: int, memlimit: int) -> bytes:
    return nacl.pwhash.argon2id.str(b"no such officer", opslimit=opslimit, memlimit=memlimit)
