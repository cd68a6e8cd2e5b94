"""``iblagh-source``: operator commands for the public host."""

import argparse
import json
import sys
from pathlib import Path

from backup.database import DEFAULT_TIMEOUT_SECONDS
from backup.folder import BackupError
from source_app.backup import LEFT_OUT, create_backup, restore_backup
from source_app.config import ConfigError, SourceConfig
from source_app.db import make_engine, make_session_factory
from source_app.recipients import load_recipient_set
from source_app.schema import SchemaError, current_revision, upgrade_to_head
from source_app.services.maintenance import expire_leftovers, sweep_orphans
from source_app.static_assets import static_manifest
from source_app.storage_s3 import open_blob_store


def _recover(config: SourceConfig, grace: float) -> int:
    sessions = make_session_factory(make_engine(config.database_url))
    store = open_blob_store(config)
    with sessions() as session:
        result = sweep_orphans(session, store, grace_seconds=grace)
        expired = expire_leftovers(
            session,
            store,
            reply_days=config.reply_retention_days,
            reporter_days=config.reporter_retention_days,
        )
    print(
        f"recover: removed {result.orphans_removed} unreferenced blob(s) and "
        f"{result.unfinished_removed} unfinished write(s); expired "
        f"{result.uploads_expired} resumable upload(s), "
        f"{expired.replies_removed} reply(ies) and {expired.reporters_removed} reporter record(s)"
    )
    return 0


def _check(config: SourceConfig) -> int:
    recipient_set, _ = load_recipient_set(config)
    print(f"recipient set serial {recipient_set.serial}, issued {recipient_set.issued_at}")
    for recipient in recipient_set.recipients:
        print(f"  {recipient.role:8} {recipient.key_id}")
    print(f"  {len(recipient_set.sync_verify_keys)} sync key(s)")
    return 0


def _upgrade(config: SourceConfig) -> int:
    engine = make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        after = upgrade_to_head(engine)
    except SchemaError as exc:
        print(f"iblagh-source upgrade: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if before == after:
        print(f"database already at {after}")
    else:
        print(f"database upgraded from {before or 'no version'} to {after}")
    return 0


def _backup(config: SourceConfig, args: argparse.Namespace) -> int:
    """``backup create DEST`` / ``backup restore SRC`` (docs/operator.md, §6)."""
    try:
        if args.backup_action == "create":
            made = create_backup(config, args.destination, timeout=args.timeout)
            print(f"backup written to {args.destination}: the database and {made.blobs} blob(s)")
            for key in made.missing:
                print(f"  blob {key} was deleted while the backup ran (acknowledged): left out")
            for item in LEFT_OUT:
                print(f"  not in the backup: {item}")
            print(f"manifest sha256 {made.manifest_sha256}: note it apart from the copy")
            return 0
        restored = restore_backup(config, args.source, force=args.force, timeout=args.timeout)
    except BackupError as exc:
        print(f"iblagh-source backup: {exc}", file=sys.stderr)
        return 1
    print(f"restored from {args.source}: the database and {restored.blobs} blob(s)")
    for key in restored.missing:
        print(f"  warning: blob {key} is not in the backup; its submission cannot be pulled")
    if restored.orphans_removed:
        print(f"  removed {restored.orphans_removed} blob(s) no restored row names")
    return 0


def _add_backup_parser(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    backup = commands.add_parser(
        "backup", help="back up the database, blobs and public files, or restore them"
    )
    actions = backup.add_subparsers(dest="backup_action", required=True)
    create = actions.add_parser("create", help="write a backup into a new or empty folder")
    create.add_argument(
        "destination", type=Path, metavar="DEST", help="a new or empty folder (0700)"
    )
    restore = actions.add_parser(
        "restore", help="check a backup whole, then restore it into this (stopped) host"
    )
    restore.add_argument("source", type=Path, metavar="SRC", help="a folder 'backup create' wrote")
    restore.add_argument(
        "--force", action="store_true", help="replace the data this host holds (stop it first)"
    )
    for parser in (create, restore):
        parser.add_argument(
            "--timeout",
            type=float,
            default=DEFAULT_TIMEOUT_SECONDS,
            help="seconds pg_dump / pg_restore may take (default: %(default).0f)",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="iblagh-source", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    recover = commands.add_parser(
        "recover", help="remove ciphertext a crash left unreferenced (run before start-up)"
    )
    recover.add_argument(
        "--grace",
        type=float,
        default=0.0,
        help="only remove blobs older than this many seconds (0 when no worker runs)",
    )
    commands.add_parser("check", help="verify the installed recipient set and print it")
    commands.add_parser(
        "upgrade", help="apply the database migrations this release brings (back up first)"
    )
    _add_backup_parser(commands)
    commands.add_parser(
        "static-manifest",
        help="print the SHA-384 of every static file, as /static/manifest.json serves it",
    )
    args = parser.parse_args(argv)
    if args.command == "static-manifest":
        # Needs no configuration: an auditor runs it on a clean checkout to compare.
        print(json.dumps(static_manifest(), indent=2, sort_keys=True))
        return 0
    try:
        config = SourceConfig.from_env()
        if args.command == "recover":
            return _recover(config, args.grace)
        if args.command == "upgrade":
            return _upgrade(config)
        if args.command == "backup":
            return _backup(config, args)
        return _check(config)
    except ConfigError as exc:
        print(f"iblagh-source: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
