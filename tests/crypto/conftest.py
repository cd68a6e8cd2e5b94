"""Keys shared by the crypto tests.

Session-scoped so hypothesis tests can use them (a function-scoped fixture would be
reused across examples anyway); none of them is ever mutated.
"""

import pytest
from nacl.public import PrivateKey
from nacl.signing import SigningKey


@pytest.fixture(scope="session")
def intake_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="session")
def recovery_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="session")
def stranger_key() -> PrivateKey:
    return PrivateKey.generate()


@pytest.fixture(scope="session")
def unit_signing_key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture(scope="session")
def sync_signing_key() -> SigningKey:
    return SigningKey.generate()
