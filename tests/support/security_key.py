"""A software security key for tests without a browser: a real P-256 key pair signing real
WebAuthn answers (``none`` attestation, resident credential, user verification flag, a
counter), and a PRF like CTAP2's ``hmac-secret`` (HMAC-SHA-256 under a per-credential
secret). The browser suite uses Chromium's virtual authenticator instead."""

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

_UP, _UV, _AT = 0x01, 0x04, 0x40


@dataclass
class SoftKey:
    """One credential on one authenticator, for ``origin``."""

    origin: str = "http://localhost"
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    prf_secret: bytes = field(default_factory=lambda: os.urandom(32))
    counter: int = 0
    user_handle: bytes = b""
    rp_id: str = ""

    def create(self, options_json: str) -> str:
        """Answer ``navigator.credentials.create`` options (the server's JSON)."""
        options = json.loads(options_json)
        self.rp_id = options["rp"]["id"]
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        client_data = self._client_data("webauthn.create", options["challenge"])
        numbers = self.private_key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
        auth_data = self._auth_data(_UP | _UV | _AT) + attested + cose_key
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps(
            {
                "id": bytes_to_base64url(self.credential_id),
                "rawId": bytes_to_base64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "attestationObject": bytes_to_base64url(attestation),
                    "transports": ["usb"],
                },
                "clientExtensionResults": {},
            }
        )

    def get(
        self,
        options_json: str,
        *,
        user_verified: bool = True,
        origin: str | None = None,
        counter: int | None = None,
    ) -> str:
        """Answer ``navigator.credentials.get`` options: the assertion as JSON."""
        options = json.loads(options_json)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        self.counter = self.counter + 1 if counter is None else counter
        flags = _UP | (_UV if user_verified else 0)
        auth_data = self._auth_data(flags)
        signature = self.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": bytes_to_base64url(self.credential_id),
                "rawId": bytes_to_base64url(self.credential_id),
                "type": "public-key",
                "response": {
                    "clientDataJSON": bytes_to_base64url(client_data),
                    "authenticatorData": bytes_to_base64url(auth_data),
                    "signature": bytes_to_base64url(signature),
                    "userHandle": bytes_to_base64url(self.user_handle),
                },
                "clientExtensionResults": {},
            }
        )

    def prf(self, salt_b64url: str) -> str:
        """The PRF output for the page's salt, as the browser would hand it over."""
        salt = hashlib.sha256(b"WebAuthn PRF\x00" + base64url_to_bytes(salt_b64url)).digest()
        return bytes_to_base64url(hmac.new(self.prf_secret, salt, hashlib.sha256).digest())

    def _auth_data(self, flags: int) -> bytes:
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.counter)

    def _client_data(self, kind: str, challenge: str, origin: str | None = None) -> bytes:
        document: dict[str, Any] = {
            "type": kind,
            "challenge": challenge,
            "origin": origin or self.origin,
            "crossOrigin": False,
        }
        return json.dumps(document, separators=(",", ":")).encode()
