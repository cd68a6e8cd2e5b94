"""``iblagh-officer`` commands for accounts, key rotation and recovery, and the audit log.

Registered by journalist_app/cli/main.py, which hands over its database, unlock and
passphrase helpers. Each command calls one service (accounts, key_ops, audit) that
checks the permission and writes the audit entry.
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from crypto.encoding import b64encode
from crypto.errors import CryptoError
from journalist_app import audit
from journalist_app.accounts import officers, resets
from journalist_app.audit_anchor import ANCHOR_FOLDER, latest_kept_anchor, verify_against_anchor
from journalist_app.audit_derived import check_case_events, check_reveals
from journalist_app.cli.common import (
    NEW_PASSPHRASE_ENV,
    PASSPHRASE_ENV,
    CliHelpers,
    add_you,
    load_totp_key,
)
from journalist_app.config import OfficerConfig, passphrase_from_env
from journalist_app.errors import OfficerError
from journalist_app.keys import grants
from journalist_app.keys import rotation as key_ops
from journalist_app.keys.custody import keys_initialised
from journalist_app.sync.client import SyncClient


class AuditChainBroken(OfficerError):
    """``audit verify`` found the first entry that breaks the chain."""


def register(
    commands: "argparse._SubParsersAction[Any]",
    keys: "argparse._SubParsersAction[Any]",
    officer: "argparse._SubParsersAction[Any]",
    helpers: CliHelpers,
) -> None:
    """Add the commands under ``admin``, ``officer``, ``keys`` and ``audit``."""

    admin = commands.add_parser("admin", help="the first admin").add_subparsers(
        required=True, metavar="ACTION"
    )
    create = admin.add_parser("create", help="create the first admin account (only while none)")
    create.add_argument("--username", required=True, help="username of the admin")
    create.add_argument(
        "--officer", help="after 'keys init': a holder of the signing key, who unlocks to grant it"
    )
    create.set_defaults(handler=helpers.bind(admin_create))

    for name, handler, text in (
        ("remove", officer_remove, "(admin) delete an account and every key granted to it"),
        ("reset-passphrase", officer_reset_passphrase, "(admin) print a one-time passphrase"),
        ("reset-2fa", officer_reset_2fa, "(admin) print a new two-factor secret"),
        ("unlock", officer_unlock, "(admin) lift a lockout after failed logins"),
        (
            "approve-reset",
            officer_approve_reset,
            "(supervisor) approve an admin's passphrase reset, checked with the officer in person",
        ),
    ):
        action = officer.add_parser(name, help=text)
        add_you(action)
        action.add_argument("--name", required=True, help="the account to act on")
        if name == "remove":
            action.add_argument(
                "--force", action="store_true", help="even if they are a key's last holder"
            )
        action.set_defaults(handler=helpers.bind(handler))
    listing = officer.add_parser("list", help="(admin) accounts, roles, keys held, lockouts")
    add_you(listing)
    listing.set_defaults(handler=helpers.bind(officer_list))
    own = officer.add_parser("passphrase", help="change your own passphrase")
    add_you(own)
    own.set_defaults(handler=helpers.bind(officer_passphrase))

    rotate = keys.add_parser("rotate", help="(admin) new intake key for all who held the old one")
    add_you(rotate)
    rotate.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    rotate.set_defaults(handler=helpers.bind(keys_rotate))
    rotate_identity = keys.add_parser(
        "rotate-identity", help="(admin) new identity key for all who held the old one"
    )
    add_you(rotate_identity)
    rotate_identity.add_argument(
        "--public-out", required=True, type=Path, help="folder for public files"
    )
    rotate_identity.set_defaults(handler=helpers.bind(keys_rotate_identity))
    grant = keys.add_parser("grant", help="seal the keys you hold to an account that needs them")
    add_you(grant)
    grant.add_argument("--to", required=True, help="the account to grant to")
    grant.add_argument(
        "--admin-intake",
        action="store_true",
        help="give an admin the intake keys (the explicit exception: admins read nothing)",
    )
    grant.set_defaults(handler=helpers.bind(keys_grant))
    recover = keys.add_parser(
        "recover", help="every officer lost: a new admin who reads reports with the recovery key"
    )
    recover.add_argument(
        "--recovery-secret-file", required=True, type=Path, help="file holding the secret"
    )
    recover.add_argument("--new-admin", required=True, help="username of the new admin")
    recover.add_argument("--public-out", type=Path, help="folder for the new public files")
    recover.set_defaults(handler=helpers.bind(keys_recover))

    audit_parser = commands.add_parser("audit", help="the audit log").add_subparsers(
        required=True, metavar="ACTION"
    )
    verify = audit_parser.add_parser("verify", help="check the hash chain of the audit log")
    verify.add_argument("--head", help="a head hash noted earlier, to detect a truncated log")
    verify.add_argument(
        "--anchor",
        type=Path,
        help="a signed checkpoint (audit anchor) kept outside this host, to detect a rewrite",
    )
    verify.add_argument(
        "--officer",
        help="check against the latest anchor the public host keeps (you unlock; your sync "
        "key signs the request)",
    )
    verify.set_defaults(handler=helpers.bind(audit_verify))


# --- commands ---------------------------------------------------------------------------


def admin_create(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session = helpers.open_database(config)
    granter = None
    if args.officer:
        granter = helpers.unlock(session, config, args.officer)
    elif keys_initialised(session):
        print(
            "note: without --officer the admin gets no signing key; a holder grants it later "
            f"with 'iblagh-officer keys grant --officer HOLDER --to {args.username}'",
            file=out,
        )
    passphrase = helpers.new_passphrase(
        NEW_PASSPHRASE_ENV, f"passphrase for the admin {args.username}", args.username
    )
    created = officers.create_first_admin(
        session,
        args.username,
        passphrase,
        params=config.wrap_params,
        totp_key=load_totp_key(config),
        granter=granter,
    )
    granted = ", ".join(created.granted) or "no key yet ('keys init' grants the signing key)"
    print(f"admin {args.username!r} created, granted: {granted}", file=out)
    helpers.print_enrolment(args.username, created.enrolment, out)
    return 0


def officer_remove(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    count = officers.remove_officer(session, keyring, args.name, force=args.force)
    print(f"officer {args.name!r} removed with {count} grants", file=out)
    print(
        "what they could read they could have copied: consider 'keys rotate' (and "
        "'keys rotate-identity' if they held the identity key)",
        file=out,
    )
    return 0


def officer_reset_passphrase(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    passphrase = officers.reset_passphrase(session, keyring, args.name, params=config.wrap_params)
    print(
        f"one-time passphrase for {args.name}: {passphrase}\n"
        "shown this once: hand it over in person. They choose their own at first login; then "
        "a supervisor other than you approves the reset ('officer approve-reset') and a "
        "holder grants their keys again ('keys grant').",
        file=out,
    )
    return 0


def officer_reset_2fa(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    enrolment = officers.reset_second_factor(
        session, keyring, args.name, totp_key=load_totp_key(config)
    )
    print(f"two-factor of {args.name!r} reset; their sessions are ended", file=out)
    helpers.print_enrolment(args.name, enrolment, out)
    return 0


def officer_unlock(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    officers.unlock_account(session, keyring, args.name)
    print(f"the lockout of {args.name!r} is lifted", file=out)
    return 0


def officer_approve_reset(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    resets.approve_reset(session, keyring, args.name)
    print(f"the passphrase reset of {args.name!r} is approved: 'keys grant' may follow", file=out)
    return 0


def officer_list(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    for account in officers.list_accounts(session, keyring):
        state = []
        if account.must_change_passphrase:
            state.append("one-time passphrase")
        if account.locked_until is not None:
            state.append(f"locked until {account.locked_until:%Y-%m-%d %H:%M} UTC")
        if account.missing:
            state.append(f"needs {', '.join(sorted(account.missing))}")
        holds = ", ".join(sorted(account.holds)) or "no key"
        extra = f" ({'; '.join(state)})" if state else ""
        print(f"{account.username}\t{account.role.value}\t{holds}{extra}", file=out)
    return 0


def officer_passphrase(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer, first_passphrase=True)
    current = passphrase_from_env(PASSPHRASE_ENV) or helpers.ask(
        f"current passphrase for {args.officer}: ", PASSPHRASE_ENV
    )
    new = helpers.new_passphrase(NEW_PASSPHRASE_ENV, "your new passphrase", args.officer)
    officers.change_own_passphrase(session, keyring, current, new, params=config.wrap_params)
    print(f"passphrase of {args.officer!r} changed; your other sessions are ended", file=out)
    return 0


def keys_rotate(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    result = key_ops.rotate_intake_key(session, keyring)
    print(f"new intake key {result.new_key_id}", file=out)
    print(f"retired (kept for old reports): {', '.join(result.retired_key_ids)}", file=out)
    print(f"granted to: {', '.join(result.granted_to)}", file=out)
    helpers.write_public(session, args.public_out, out)
    print("install the new recipient-set.json on the public host", file=out)
    return 0


def keys_rotate_identity(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    result = key_ops.rotate_identity_key(session, keyring)
    print(f"new identity key {result.new_key_id}", file=out)
    retired = ", ".join(result.retired_key_ids) or "none (this is the unit's first)"
    print(f"retired (kept for old identity sections): {retired}", file=out)
    print(f"granted to: {', '.join(result.granted_to)}", file=out)
    helpers.write_public(session, args.public_out, out)
    print("install the new recipient-set.json on the public host", file=out)
    return 0


def keys_grant(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    granted = grants.grant_keys(session, keyring, args.to, with_intake=args.admin_intake)
    print(f"{len(granted)} keys granted to {args.to!r}", file=out)
    return 0


def keys_recover(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session = helpers.open_database(config)
    try:
        text = args.recovery_secret_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OfficerError(f"cannot read {args.recovery_secret_file}: {exc}") from exc
    secret = key_ops.parse_recovery_secret(text)
    passphrase = helpers.new_passphrase(
        NEW_PASSPHRASE_ENV, f"passphrase for the new admin {args.new_admin}", args.new_admin
    )
    result = key_ops.recover_unit(
        session,
        secret,
        args.new_admin,
        passphrase,
        params=config.wrap_params,
        totp_key=load_totp_key(config),
    )
    print(
        f"recovered: admin {args.new_admin!r} holds the recovery key (every stored report "
        "and identity section opens with it) and new intake, identity, signing and sync keys",
        file=out,
    )
    helpers.print_enrolment(args.new_admin, result.enrolment, out)
    if args.public_out:
        helpers.write_public(session, args.public_out, out)
    print(
        "\nThe signing key changed: install the new unit-verify-key AND recipient-set.json on\n"
        "the public host (it pins the old key and refuses the new set until then).\n"
        "\nNEW RECOVERY SECRET: shown this once and stored nowhere. The old one was typed\n"
        "into this host and is retired; keep this one in the safe instead.\n"
        f"recovery secret: {b64encode(result.new_recovery_secret)}\n",
        file=out,
    )
    return 0


def audit_verify(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    document: bytes | None = None
    source = str(args.anchor)
    if args.officer:
        session, keyring = helpers.unlocked(config, args.officer)
        if keyring.sync_key is None:
            raise OfficerError(f"officer {args.officer!r} holds no sync key to ask the public host")
        source = f"the public host at {config.sync_url}"
        document = SyncClient.from_config(config, keyring.sync_key).fetch_latest_audit_anchor()
        if document is None:
            raise AuditChainBroken(f"{source} keeps no audit anchor: sync once to send one")
    else:
        session = helpers.open_database(config)
        if args.anchor is None and (kept := latest_kept_anchor(config.data_dir)) is not None:
            # By default, the latest anchor this host sent (audit_anchor.py says what that
            # proves and what only the public host's copy or one kept elsewhere proves).
            source = f"the copy kept in {kept[0]}"
            document = kept[1]
    check = audit.verify_chain(session, expected_head=args.head)
    anchored = (
        f"no anchor kept in {config.data_dir / ANCHOR_FOLDER} (none sent yet, or removed): "
        "--officer NAME asks the public host for the latest"
    )
    if check.intact and (args.anchor is not None or document is not None):
        try:
            document = document if document is not None else args.anchor.read_bytes()
            check, signed = verify_against_anchor(session, document)
        except (OSError, CryptoError) as exc:
            raise AuditChainBroken(f"the audit anchor from {source} is not usable: {exc}") from exc
        mark = signed.checkpoint
        anchored = f"anchored: entry {mark.count} is the one signed at {mark.time} ({source})"
    if check.intact and (derived := check_reveals(session) or check_case_events(session)):
        raise AuditChainBroken(f"audit log intact but {derived}")
    if not check.intact:
        where = f"entry {check.broken_at}: " if check.broken_at is not None else ""
        raise AuditChainBroken(
            f"audit log broken at {where}{check.problem} ({check.count} entries verified before)"
        )
    print(f"audit log intact: {check.count} entries; head {check.head}", file=out)
    if anchored:
        print(anchored, file=out)
    print("note the head elsewhere; 'audit verify --head HASH' later detects a cut end", file=out)
    return 0
