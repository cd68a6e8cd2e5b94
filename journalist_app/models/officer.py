"""Officers and the unit secrets granted to them (see docs/keys.md)."""

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from journalist_app.clock import utc_now
from journalist_app.models.base import Base


class Officer(Base):
    """An officer account; its X25519 private key rests only wrapped by the passphrase."""

    __tablename__ = "officers"
    # Never reuse the id of a removed account: open sessions are bound to it.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # nacl.pwhash.argon2id.str output: algorithm, parameters and salt are inside.
    password_hash: Mapped[bytes] = mapped_column(LargeBinary(256))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # crypto.keys.wrap_secret document (argon2id + secretbox) under the login passphrase.
    wrapped_private_key: Mapped[bytes] = mapped_column(LargeBinary(1024))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # roles.Role; decides permissions and which unit secrets the account should hold.
    role: Mapped[str] = mapped_column(String(32), default="analyst")
    # TOTP secret in a secretbox under the host's TOTP key (journalist_app/accounts/totp.py).
    totp_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(128), default=None)
    # Last TOTP time step accepted: a code of this step or an earlier one is refused.
    totp_last_step: Mapped[int] = mapped_column(default=0)
    # Superseded by LoginThrottle (locks are per account *and client* since issue 9);
    # kept, unused, so that data dirs made before still accept new rows.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    # Bumped by a passphrase or 2FA reset, a role change or a removal: sessions opened
    # under an older value are forgotten at their next request, in any process.
    session_epoch: Mapped[int] = mapped_column(default=0)
    # Set by an admin-made passphrase: the officer must choose their own before anything.
    must_change_passphrase: Mapped[bool] = mapped_column(default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)

    grants: Mapped[list["KeyGrant"]] = relationship(
        back_populates="officer", cascade="all, delete-orphan"
    )


class KeyGrant(Base):
    """One unit secret sealed (crypto_box_seal) to one officer's public key."""

    __tablename__ = "key_grants"
    __table_args__ = (UniqueConstraint("officer_id", "key_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    key_id: Mapped[str] = mapped_column(ForeignKey("unit_keys.key_id"))
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary(128))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    officer: Mapped[Officer] = relationship(back_populates="grants")


class LoginThrottle(Base):
    """Consecutive failed proofs of identity for one account from one client, and the wait
    they earned (journalist_app/accounts/throttle.py).

    ``client`` is a keyed hash of the address the officer app saw (or a fixed name for the
    CLI), never the address: one client's guesses lock that client out of that account
    only, so nobody can lock an officer out from elsewhere (issue 9, finding 9).
    """

    __tablename__ = "login_throttles"
    __table_args__ = (UniqueConstraint("officer_id", "client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    client: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_failure_at: Mapped[datetime | None] = mapped_column(default=None)
    # When this client reached the lockout: an alert on the admin's page until lifted.
    alerted_at: Mapped[datetime | None] = mapped_column(default=None)


class PassphraseReset(Base):
    """An admin's reset of an officer's passphrase, and who approved it (accounts/resets.py).

    Until a supervisor other than the resetting admin and the officer approves it, the
    account is granted nothing: otherwise an admin who resets both factors could log in
    as a supervisor and wait for a colleague to hand them the identity keys.
    """

    __tablename__ = "passphrase_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    reset_by: Mapped[str] = mapped_column(String(64))
    reset_at: Mapped[datetime] = mapped_column(default=utc_now)
    approved_by: Mapped[str | None] = mapped_column(String(64), default=None)
    approved_at: Mapped[datetime | None] = mapped_column(default=None)


class SecurityKey(Base):
    """An officer's WebAuthn credential (a security key or platform passkey with a PIN).

    ``wrapped_private_key`` is the officer's X25519 private key in a secretbox under a key
    derived from the credential's PRF output (accounts/security_keys.py): with it, the key
    and its PIN alone unlock the officer's keys (passwordless login). Without it (an
    authenticator without PRF, or after a passphrase change) the key is a second factor.
    """

    __tablename__ = "officer_security_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(1023), unique=True)
    # COSE public key, as the authenticator gave it at registration.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(1024))
    sign_count: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(String(64))
    rp_id: Mapped[str] = mapped_column(String(253))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary(256), default=None)


class UsedChallenge(Base):
    """A WebAuthn challenge already answered: each is good for one ceremony only."""

    __tablename__ = "webauthn_used_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime] = mapped_column(default=utc_now)
