"""Roles and permissions: one table says who may do what, one decorator enforces it.

Every view and every service action names the permission it needs; the role of the
officer doing it must hold that permission in :data:`ROLE_PERMISSIONS`. Nothing else
grants access. Keys are a second, independent gate: a role that may read reports still
reads nothing without an intake-key grant, a role that may not reveal identities holds
no identity key, and the admin role holds none by default (see docs/keys.md).
"""

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Any, ParamSpec, Protocol, TypeVar

from flask_babel import lazy_gettext as _l

from journalist_app.errors import PermissionDenied


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    ANALYST = "analyst"
    TECHNICAL_EXPERT = "technical_expert"


class Permission(StrEnum):
    # Every logged-in officer: log out, change their own passphrase.
    SESSION = "session"
    REPORTS_LIST = "reports.list"
    REPORTS_READ = "reports.read"
    REPORTS_SYNC = "reports.sync"
    IDENTITY_REVEAL = "identity.reveal"
    CASES_ASSIGN = "cases.assign"
    CASES_UPDATE = "cases.update"
    REPLIES_SEND = "replies.send"
    DIAGNOSTICS_RUN = "diagnostics.run"
    BATCHES_IMPORT = "batches.import"
    BATCHES_EXPORT = "batches.export"
    AUDIT_READ_OWN = "audit.read_own"
    AUDIT_READ_ALL = "audit.read_all"
    ACCOUNTS_MANAGE = "accounts.manage"
    # Rotate the intake key, issue and export recipient sets.
    KEYS_MANAGE = "keys.manage"
    # Seal unit secrets one holds to an account whose role needs them.
    KEYS_GRANT = "keys.grant"
    SETTINGS_MANAGE = "settings.manage"
    # The unit's figures (dashboard, CSV, transparency report): counts, never content.
    STATS_READ = "stats.read"
    # Put a case on legal hold or lift it; purge what retention says is due.
    RETENTION_MANAGE = "retention.manage"
    # Build and send a referral packet or a takedown notice; import acknowledgements.
    REFERRALS_SEND = "referrals.send"
    # Import the referral directory (partners' keys, rules), make the unit's OpenPGP key.
    REFERRALS_MANAGE = "referrals.manage"


_P = Permission

# The one permission table. A role missing a permission is refused, in the UI and below it.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    # Accounts, keys, settings: no report, no identity, no case.
    Role.ADMIN: frozenset(
        {
            _P.SESSION,
            _P.AUDIT_READ_OWN,
            _P.ACCOUNTS_MANAGE,
            _P.KEYS_MANAGE,
            _P.KEYS_GRANT,
            _P.SETTINGS_MANAGE,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            _P.SESSION,
            _P.REPORTS_LIST,
            _P.REPORTS_READ,
            _P.REPORTS_SYNC,
            _P.IDENTITY_REVEAL,
            _P.CASES_ASSIGN,
            _P.CASES_UPDATE,
            _P.REPLIES_SEND,
            _P.DIAGNOSTICS_RUN,
            _P.BATCHES_IMPORT,
            _P.BATCHES_EXPORT,
            _P.AUDIT_READ_OWN,
            _P.AUDIT_READ_ALL,
            _P.KEYS_GRANT,
            _P.STATS_READ,
            _P.RETENTION_MANAGE,
            _P.REFERRALS_SEND,
            _P.REFERRALS_MANAGE,
        }
    ),
    Role.ANALYST: frozenset(
        {
            _P.SESSION,
            _P.REPORTS_LIST,
            _P.REPORTS_READ,
            _P.REPORTS_SYNC,
            _P.CASES_UPDATE,
            _P.REPLIES_SEND,
            _P.BATCHES_IMPORT,
            _P.BATCHES_EXPORT,
            _P.AUDIT_READ_OWN,
            _P.REFERRALS_SEND,
        }
    ),
    Role.TECHNICAL_EXPERT: frozenset(
        {
            _P.SESSION,
            _P.REPORTS_LIST,
            _P.REPORTS_READ,
            _P.DIAGNOSTICS_RUN,
            _P.AUDIT_READ_OWN,
        }
    ),
}

# Which unit secrets (by unit-key role, see models/unit_key.py) each officer role needs.
# "intake" covers every intake key, current and retired: they open report bodies,
# attachments and follow-ups. "identity" covers every identity key, current and retired,
# and a recovery key put back into service by `keys recover`: they open identity
# sections (the recovery key opens everything), so only a role that may reveal an
# identity (identity.reveal) holds them. Invariant 5 is thus kept by the keys too, not
# only by the permission check: an analyst's keys cannot open an identity.
ROLE_UNIT_KEYS: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset({"signing"}),
    Role.SUPERVISOR: frozenset({"intake", "identity", "sync"}),
    Role.ANALYST: frozenset({"intake", "sync"}),
    Role.TECHNICAL_EXPERT: frozenset({"intake"}),
}

ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SUPERVISOR: _l("Supervisor"),
    Role.ANALYST: _l("Analyst"),
    Role.TECHNICAL_EXPERT: _l("Technical expert"),
}


class Principal(Protocol):
    """Who acts: an unlocked keyring or an :class:`~journalist_app.accounts.officers.Actor`."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


def parse_role(value: str) -> Role:
    """The role named ``value``; :class:`ValueError` for anything else."""
    try:
        return Role(value)
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise ValueError(f"unknown role {value!r}: choose one of {names}") from None


def permissions_of(role: str) -> frozenset[Permission]:
    """The permissions of ``role``; an unknown or empty role has none."""
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def has_permission(principal: Principal | None, permission: Permission) -> bool:
    return principal is not None and permission in permissions_of(principal.role)


def check_permission(principal: Principal | None, permission: Permission) -> None:
    """Raise :class:`PermissionDenied` unless ``principal``'s role holds ``permission``."""
    if not has_permission(principal, permission):
        who = principal.username if principal is not None else "nobody"
        role = principal.role if principal is not None else "-"
        raise PermissionDenied(f"{who!r} ({role}) may not do this: it needs {permission.value}")


P = ParamSpec("P")
R = TypeVar("R")
PRINCIPAL_PARAMETERS = ("actor", "keyring")


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a service action: its ``actor`` (or ``keyring``) argument must hold ``permission``.

    The wrapped function carries ``required_permission`` so tests can list what each
    action needs.
    """

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(function)
        name = next((n for n in PRINCIPAL_PARAMETERS if n in signature.parameters), None)
        if name is None:
            raise TypeError(f"{function.__qualname__} takes no 'actor' or 'keyring' to check")

        @functools.wraps(function)
        def checked(*args: P.args, **kwargs: P.kwargs) -> R:
            principal: Any = signature.bind_partial(*args, **kwargs).arguments.get(name)
            check_permission(principal, permission)
            return function(*args, **kwargs)

        checked.required_permission = permission  # type: ignore[attr-defined]
        return checked

    return decorate
