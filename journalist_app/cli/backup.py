"""``iblagh-officer backup create DEST`` / ``backup restore SRC`` (docs/operator.md, §6).

No login: the backup copies keys as they rest, wrapped, and decrypts nothing. Whoever
runs it already reads the data dir as the service user.
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from backup.database import DEFAULT_TIMEOUT_SECONDS
from backup.folder import BackupError
from journalist_app.backup import create_backup, restore_backup
from journalist_app.cli.common import CliHelpers
from journalist_app.cli.progress import progress_bar
from journalist_app.config import OfficerConfig
from journalist_app.errors import OfficerError


class BackupFailed(OfficerError):
    """A backup or restore refused or failed; the message says what to do."""


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``backup`` to the ``iblagh-officer`` parser."""
    backup = commands.add_parser(
        "backup", help="back up the database, report ciphertexts and kept files, or restore"
    )
    actions = backup.add_subparsers(dest="backup_action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="write a backup into a new or empty folder")
    create.add_argument(
        "destination", type=Path, metavar="DEST", help="a new or empty folder (0700)"
    )
    create.set_defaults(handler=backup_create)
    restore = actions.add_parser(
        "restore", help="check a backup whole, then restore it into this (stopped) host"
    )
    restore.add_argument("source", type=Path, metavar="SRC", help="a folder 'backup create' wrote")
    restore.add_argument(
        "--force", action="store_true", help="replace the data this host holds (stop it first)"
    )
    restore.set_defaults(handler=backup_restore)
    for parser in (create, restore):
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            help="seconds pg_dump / pg_restore may take (default: %(default).0f)",
        )


def backup_create(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    try:
        with progress_bar("backing up", unit="blob") as bar:
            made = create_backup(config, args.destination, timeout=args.timeout, on_blob=bar.update)
    except BackupError as exc:
        raise BackupFailed(str(exc)) from exc
    out.write(
        f"backup written to {args.destination}: the database, {made.blobs} blob(s) and "
        f"{made.files} kept file(s)\n"
    )
    for relative in made.missing:
        out.write(f"  {relative} was purged while the backup ran: left out\n")
    for note in made.left_out:
        out.write(f"  not in the backup: {note}\n")
    out.write(f"manifest sha256 {made.manifest_sha256}: note it apart from the copy\n")
    return 0


def backup_restore(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    try:
        with progress_bar("restoring", unit="blob") as bar:
            restored = restore_backup(
                config, args.source, force=args.force, timeout=args.timeout, on_blob=bar.update
            )
    except BackupError as exc:
        raise BackupFailed(str(exc)) from exc
    out.write(
        f"restored from {args.source}: the database, {restored.blobs} blob(s) and "
        f"{restored.files} kept file(s)\n"
    )
    for relative in restored.missing:
        out.write(f"  warning: {relative} is not in the backup; its report will not open\n")
    out.write(
        "next: an admin gives every officer a new second factor "
        "('iblagh-officer officer reset-2fa'), then 'iblagh-officer audit verify'\n"
    )
    return 0
