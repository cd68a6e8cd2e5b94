"""Loading the unit's signed recipient set, the only key material the public host holds.

The public host pins the unit's Ed25519 verify key and refuses to run on a recipient
set that does not verify against it: a forged set would seal reports to an attacker.
"""

from nacl.signing import VerifyKey

from crypto.encoding import b64decode
from crypto.errors import CryptoError
from crypto.recipients import RecipientSet, verify_recipient_set
from source_app.config import ConfigError, SourceConfig


def load_recipient_set(config: SourceConfig) -> tuple[RecipientSet, bytes]:
    """Verify and return the installed recipient set and its signed file's bytes."""
    if not config.unit_verify_key:
        raise ConfigError(
            "no unit verify key: set IBLAGH_UNIT_VERIFY_KEY or write it to "
            f"{config.data_dir / 'unit-verify-key'} (printed by `iblagh-officer keys init`)"
        )
    try:
        verify_key = VerifyKey(b64decode(config.unit_verify_key, length=32))
    except CryptoError as exc:
        raise ConfigError("the unit verify key is not 32 bytes of base64") from exc
    try:
        signed = config.recipient_set_path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"no recipient set at {config.recipient_set_path}: install the file written by "
            "`iblagh-officer keys init`"
        ) from exc
    try:
        return verify_recipient_set(signed, verify_key), signed
    except CryptoError as exc:
        raise ConfigError(
            f"refusing to start: the recipient set at {config.recipient_set_path} does not "
            f"verify against the pinned unit key ({exc})"
        ) from exc
