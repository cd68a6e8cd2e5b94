"""Every cryptographic operation and wire format of Iblagh.

Both apps import this package; it imports nothing of theirs. Primitives come from
libsodium through PyNaCl only (docs/invariants.md, 8).
"""
