"""OpenPGP with partner institutions, through GnuPG (python-gnupg), in an isolated home.

Judicial police units and prosecutors already use OpenPGP: packets are signed with the
unit's key and encrypted to theirs, so that stock ``gpg --decrypt`` opens them. Every
operation runs in a fresh ``GNUPGHOME`` made for it (:class:`IsolatedGnuPG`), holding
only the keys this operation needs, imported and checked just before use; the home and
its agent are removed afterwards. Nothing here trusts a key because it was seen before:
:meth:`IsolatedGnuPG.import_checked` refuses an expired or revoked key, one without a
usable encryption (or signing) key, and one whose fingerprint is not the one expected.

No primitive is implemented here (docs/invariants.md, 8): GnuPG does the cryptography;
the one derivation, :func:`derive_key_passphrase`, is libsodium's keyed BLAKE2b.
"""

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import gnupg
import nacl.encoding
import nacl.hash

from crypto.errors import CryptoError, SignatureError

_PERSON = b"iblagh-openpgp-1"
# Evidence is mostly pictures and videos, already compressed: compressing again costs
# time and gains nothing.
_NO_COMPRESSION = ["--compress-algo", "none"]
_BUFFER = 1024 * 1024


class OpenPGPError(CryptoError):
    """GnuPG refused an operation (a bad passphrase, a missing key, a broken stream)."""


class KeyRefused(OpenPGPError):
    """A partner's key may not be used; ``reason`` is one of :data:`REFUSAL_REASONS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


REFUSAL_REASONS = ("malformed", "several", "fingerprint", "expired", "revoked", "unusable")


@dataclass(frozen=True)
class CheckedKey:
    """A public key that passed :meth:`IsolatedGnuPG.import_checked`."""

    fingerprint: str
    uids: tuple[str, ...]
    expires: datetime | None


@dataclass(frozen=True)
class VerifiedText:
    """A clear-signed text whose signature checked: the signed text only, and who signed."""

    text: str
    signer_fingerprint: str


def derive_key_passphrase(unit_secret: bytes) -> str:
    """The passphrase that protects the unit's OpenPGP secret key at rest.

    Derived one way from a 32-byte unit secret that rests wrapped by officer passphrases,
    so the armored secret key in the database opens only in an unlocked session.
    """
    if len(unit_secret) != 32:
        raise ValueError("a unit secret is 32 bytes")
    derived = nacl.hash.blake2b(
        b"unit openpgp key passphrase",
        digest_size=32,
        key=unit_secret,
        person=_PERSON,
        encoder=nacl.encoding.HexEncoder,
    )
    return derived.decode("ascii")


def fingerprint_of(value: str) -> str:
    """A fingerprint as GnuPG prints it: hexadecimal in capitals, no spaces."""
    return value.replace(" ", "").upper()


class IsolatedGnuPG:
    """A throwaway ``GNUPGHOME`` (mode 0700) for one operation; use as a context manager."""

    def __init__(self, *, faked_time: str | None = None) -> None:
        self._faked_time = faked_time
        self.home = Path()
        self._gpg: Any = None

    def __enter__(self) -> "IsolatedGnuPG":
        # A short path in the system's temporary folder: the agent's socket path is
        # limited to about 100 characters.
        self.home = Path(tempfile.mkdtemp(prefix="iblagh-gpg-"))
        os.chmod(self.home, 0o700)
        # No passphrase is cached beyond the operation, and nothing is fetched.
        (self.home / "gpg-agent.conf").write_text(
            "default-cache-ttl 0\nmax-cache-ttl 0\n", encoding="ascii"
        )
        (self.home / "gpg.conf").write_text(
            "no-auto-key-locate\nno-auto-key-retrieve\nkeyserver-options no-auto-key-retrieve\n",
            encoding="ascii",
        )
        options = ["--faked-system-time", self._faked_time] if self._faked_time else None
        self._gpg = gnupg.GPG(gnupghome=str(self.home), options=options)
        self._gpg.encoding = "utf-8"
        self._gpg.buffer_size = _BUFFER
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.home, ignore_errors=True)

    # --- keys ----------------------------------------------------------------------

    def import_checked(self, armored: str, fingerprint: str, *, use: str) -> CheckedKey:
        """Import one partner's public key and check it for ``use`` ("encrypt", "sign").

        Raises :class:`KeyRefused` when the block holds no key or several, when its
        fingerprint is not ``fingerprint``, when it is revoked or expired, or when it has
        no valid key for ``use``.
        """
        expected = fingerprint_of(fingerprint)
        scanned = self._gpg.scan_keys_mem(armored) if armored.strip() else []
        primaries = [k for k in scanned if k.get("type") == "pub"]
        if not primaries:
            raise KeyRefused("malformed", "no OpenPGP public key could be read")
        if len(primaries) > 1:
            raise KeyRefused("several", "the key block holds several keys; give exactly one")
        found = str(primaries[0].get("fingerprint", ""))
        if found != expected:
            raise KeyRefused(
                "fingerprint", f"the key's fingerprint is {found}, not the expected {expected}"
            )
        result = self._gpg.import_keys(armored)
        if not result.count or expected not in (result.fingerprints or []):
            raise KeyRefused("malformed", "GnuPG did not import the key")
        listed = [k for k in self._gpg.list_keys(keys=[expected]) if k["fingerprint"] == expected]
        if not listed:
            raise KeyRefused("malformed", "GnuPG does not list the imported key")
        key = listed[0]
        validity = key.get("trust", "")
        if validity == "r":
            raise KeyRefused("revoked", f"the key {expected} is revoked")
        if validity == "e":
            raise KeyRefused("expired", f"the key {expected} has expired")
        capability = "E" if use == "encrypt" else "S"
        if capability not in key.get("cap", ""):
            raise KeyRefused(
                "unusable", f"the key {expected} has no valid {use}ion subkey (expired or revoked)"
            )
        expires = key.get("expires") or ""
        return CheckedKey(
            fingerprint=expected,
            uids=tuple(key.get("uids", [])),
            expires=datetime.fromtimestamp(int(expires), UTC) if expires else None,
        )

    def import_secret(self, armored: str, passphrase: str | None) -> str:
        """Import the unit's protected secret key (``None``: an unprotected key, for tests
        and demos playing a partner); returns its fingerprint."""
        result = self._gpg.import_keys(armored, passphrase=passphrase or None)
        secret = [k for k in self._gpg.list_keys(secret=True)]
        if not result.count or len(secret) != 1:
            raise OpenPGPError("the unit's OpenPGP secret key did not import")
        return str(secret[0]["fingerprint"])

    # --- operations ----------------------------------------------------------------

    def encrypt_stream(
        self,
        produce: Callable[[IO[bytes]], object],
        recipients: Sequence[str],
        output: Path,
        *,
        signer: str,
        passphrase: str,
    ) -> None:
        """Sign with ``signer`` and encrypt to ``recipients`` what ``produce`` writes.

        ``produce`` writes the plaintext to the file object it is given, in pieces, while
        GnuPG reads the other end of a pipe: the plaintext is never whole in memory nor
        on disk. On any failure ``output`` is removed and the error raised.
        """
        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=_BUFFER)
        outcome: dict[str, Any] = {}

        def run_gpg() -> None:
            try:
                outcome["result"] = self._gpg.encrypt_file(
                    reader,
                    list(recipients),
                    sign=signer,
                    passphrase=passphrase,
                    always_trust=True,
                    armor=False,
                    output=str(output),
                    extra_args=_NO_COMPRESSION,
                )
            except Exception as exc:  # reported by the caller's thread
                outcome["error"] = exc
            finally:
                reader.close()

        worker = threading.Thread(target=run_gpg, name="gpg-encrypt", daemon=True)
        worker.start()
        failure: BaseException | None = None
        try:
            with os.fdopen(write_fd, "wb", buffering=_BUFFER) as writer:
                produce(writer)
        except BrokenPipeError:
            failure = OpenPGPError("GnuPG stopped reading: see its status")
        except BaseException as exc:
            failure = exc
        worker.join()
        result = outcome.get("result")
        if failure is None and (result is None or not result.ok):
            status = getattr(result, "status", None) or outcome.get("error", "no result")
            failure = OpenPGPError(f"GnuPG could not sign and encrypt: {status}")
        if failure is not None:
            output.unlink(missing_ok=True)
            raise failure

    def encrypt_bytes(
        self,
        data: bytes,
        recipients: Sequence[str],
        output: Path,
        *,
        signer: str,
        passphrase: str,
    ) -> None:
        """:meth:`encrypt_stream` of a small document held in memory."""
        self.encrypt_stream(
            lambda sink: sink.write(data), recipients, output, signer=signer, passphrase=passphrase
        )

    def sign_detached(self, path: Path, output: Path, *, signer: str, passphrase: str) -> None:
        """A binary detached signature of the file at ``path`` (``gpg --verify SIG FILE``)."""
        with path.open("rb") as source:
            result = self._gpg.sign_file(
                source,
                keyid=signer,
                passphrase=passphrase,
                detach=True,
                binary=True,
                output=str(output),
            )
        if not result or not output.exists():
            output.unlink(missing_ok=True)
            raise OpenPGPError(f"GnuPG could not sign: {getattr(result, 'status', '')}")

    def clearsign(self, text: str, *, signer: str, passphrase: str | None) -> str:
        """A clear-signed text (tests and demos play a partner's acknowledgement with it)."""
        result = self._gpg.sign(text, keyid=signer, passphrase=passphrase or None, clearsign=True)
        if not result.data:
            raise OpenPGPError(f"GnuPG could not sign: {result.status}")
        return cast(bytes, result.data).decode("utf-8")

    def verify_clearsigned(self, signed: bytes, expected_signer: str) -> VerifiedText:
        """The text a clear-signed message signs, if ``expected_signer``'s key signed it.

        The key must have been imported with :meth:`import_checked` first. Only the text
        under the signature is returned: anything added around the signed block is not.
        """
        result = self._gpg.decrypt(signed)
        primary = fingerprint_of(getattr(result, "pubkey_fingerprint", "") or "")
        if not result.valid or primary != fingerprint_of(expected_signer):
            raise SignatureError(
                "the signature does not check against the expected key "
                f"({getattr(result, 'status', '') or 'no signature'})"
            )
        return VerifiedText(
            text=cast(bytes, result.data).decode("utf-8"), signer_fingerprint=primary
        )

    def export_public(self, fingerprint: str) -> str:
        """The armored public key of ``fingerprint`` held in this home."""
        return cast(str, self._gpg.export_keys(fingerprint))

    def generate(
        self, name: str, email: str, passphrase: str | None, *, expire: str = "0"
    ) -> tuple[str, str, str]:
        """An Ed25519 signing key with a Curve25519 encryption subkey.

        Returns (fingerprint, armored public key, armored secret key protected by
        ``passphrase``; unprotected when it is None, for tests and demos only).
        """
        protection: dict[str, Any] = (
            {"passphrase": passphrase} if passphrase is not None else {"no_protection": True}
        )
        spec = self._gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            subkey_type="ECDH",
            subkey_curve="cv25519",
            subkey_usage="encrypt",
            name_real=name,
            name_email=email,
            expire_date=expire,
            **protection,
        )
        made = self._gpg.gen_key(spec)
        fingerprint = str(made.fingerprint or "")
        if not fingerprint:
            raise OpenPGPError(f"GnuPG could not make a key: {made.stderr[-300:]}")
        public = cast(str, self._gpg.export_keys(fingerprint))
        secret = cast(
            str,
            self._gpg.export_keys(fingerprint, secret=True, passphrase=passphrase or ""),
        )
        return fingerprint, public, secret

    def revoke(self, fingerprint: str) -> str:
        """Revoke a key made in this home (its revocation certificate, made by GnuPG at
        generation); returns the revoked public key. Tests and key rotation use it."""
        certificate = self.home / "openpgp-revocs.d" / f"{fingerprint}.rev"
        text = certificate.read_text(encoding="ascii").replace(":-----BEGIN", "-----BEGIN")
        self._gpg.import_keys(text)
        return self.export_public(fingerprint)


def check_public_key(armored: str, fingerprint: str, *, use: str = "encrypt") -> CheckedKey:
    """:meth:`IsolatedGnuPG.import_checked` in a home of its own (directory import)."""
    with IsolatedGnuPG() as gpg:
        return gpg.import_checked(armored, fingerprint, use=use)
