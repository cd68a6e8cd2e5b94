"""Keyed blind-index tokens: search the officer host's reports without words on its disk.

A token is BLAKE2b keyed with a search key (libsodium's ``crypto_generichash``), over a
normalised term with its field (``word:…``, ``handle:…``). Someone who copies the data
dir sees which reports share a token, and how often each token occurs, but cannot tell
which word it stands for without the key, and the key is derived from a unit intake
secret, which rests only wrapped by officer passphrases (docs/invariants.md, 7).
"""

import nacl.encoding
import nacl.hash
from nacl.bindings import crypto_generichash_blake2b_salt_personal

TOKEN_BYTES = 16
_PERSON = b"iblagh-search-v1"


def derive_search_key(intake_secret: bytes) -> bytes:
    """The 32-byte search key for one unit intake secret (a separate, one-way derivation)."""
    if len(intake_secret) != 32:
        raise ValueError("an intake secret is 32 bytes")
    return nacl.hash.blake2b(
        b"search index key",
        digest_size=32,
        key=intake_secret,
        person=_PERSON,
        encoder=nacl.encoding.RawEncoder,
    )


def blind_token(search_key: bytes, term: str) -> bytes:
    """The token of one normalised ``term`` (already case-folded by the caller).

    libsodium's keyed BLAKE2b called directly: ingest makes a few dozen per report."""
    return crypto_generichash_blake2b_salt_personal(
        term.encode("utf-8"), TOKEN_BYTES, search_key, b"", _PERSON
    )
