"""The second factor: RFC 6238 codes (pyotp), each usable once, secrets at rest in a secretbox.

Why a host key and not the passphrase (docs/keys.md, "Second factor"): the code must be
checkable, and the secret resettable by an admin, without the officer's passphrase;
and the database alone (a backup, a PostgreSQL replica) must not reveal it. The key is
a 0600 file in the data dir, beside the database but not in it.
"""

import hmac
import os
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nacl.exceptions
import nacl.utils
import pyotp
from nacl.secret import SecretBox

from journalist_app.errors import CorruptGrant

TOTP_KEY_FILE = "totp-key"
ISSUER = "Iblagh"
STEP_SECONDS = 30
DIGITS = 6
# One step either side: clocks drift and people type slowly.
VALID_WINDOW = 1


@dataclass(frozen=True)
class Enrolment:
    """Shown once, at account creation or 2FA reset, to be added to an authenticator app."""

    secret: str
    uri: str

    def __repr__(self) -> str:
        return "Enrolment(<secret hidden>)"


@dataclass(frozen=True)
class CodeCheck:
    """``step`` is the accepted time step; ``replayed`` says a valid code was already used."""

    step: int | None
    replayed: bool = False


def load_or_create_totp_key(data_dir: Path) -> bytes:
    """The host's TOTP key: made once, 0600, in the data dir."""
    path = data_dir / TOTP_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) != SecretBox.KEY_SIZE:
            raise CorruptGrant(f"{path} is damaged: every officer's 2FA must be reset") from None
        return key
    key = nacl.utils.random(SecretBox.KEY_SIZE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    return key


def enrol(username: str) -> Enrolment:
    """A fresh 160-bit secret and its otpauth:// URI."""
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri)


def seal_secret(host_key: bytes, username: str, secret: str) -> bytes:
    # The username inside binds the secret to its account: a row copied onto another
    # account does not open there.
    return bytes(SecretBox(host_key).encrypt(f"{username}\n{secret}".encode()))


def open_secret(host_key: bytes, username: str, sealed: bytes) -> str:
    try:
        plain = SecretBox(host_key).decrypt(sealed).decode("utf-8")
    except (nacl.exceptions.CryptoError, UnicodeDecodeError) as exc:
        raise CorruptGrant(f"the 2FA secret of {username!r} does not open") from exc
    owner, _, secret = plain.partition("\n")
    if owner != username:
        raise CorruptGrant(f"the 2FA secret stored for {username!r} belongs to another account")
    return secret


def time_step(now: datetime) -> int:
    return int(now.astimezone(UTC).timestamp()) // STEP_SECONDS


def normalise_code(code: str) -> str:
    """Digits only, whatever script they were typed in; spaces and dashes dropped."""
    digits = []
    for char in code:
        if char in " -\u00a0\u202f":
            continue
        value = unicodedata.digit(char, None)
        if value is None:
            return ""
        digits.append(str(value))
    return "".join(digits)


def check_code(secret: str, code: str, now: datetime, last_step: int) -> CodeCheck:
    """Accept a code of the current step or one either side, if newer than ``last_step``."""
    typed = normalise_code(code)
    if len(typed) != DIGITS:
        return CodeCheck(step=None)
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    replayed = False
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), typed):
            if step > last_step:
                return CodeCheck(step=step)
            replayed = True
    return CodeCheck(step=None, replayed=replayed)


def next_usable_code(secret: str, now: datetime, last_step: int) -> str | None:
    """The code the server would accept now (a newer step than the last used), if any.

    For ``iblagh-officer demo-code`` and tests; ``None`` means wait for the next step.
    """
    current = time_step(now)
    step = max(current, last_step + 1)
    if step > current + VALID_WINDOW:
        return None
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)
