"""``iblagh-officer hashlist import|list``: lists of known illegal media (CSV or JSON)."""

import argparse
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select

from crypto.detached import verify_file
from crypto.errors import SignatureError
from crypto.keys import key_id_hex
from journalist_app.cli.common import CliHelpers, add_you
from journalist_app.config import OfficerConfig
from journalist_app.diagnostics.hashlists import HashListRefused, import_list
from journalist_app.diagnostics.pdq import DEFAULT_MAX_DISTANCE
from journalist_app.models import HashList
from journalist_app.roles import Permission, check_permission


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add the hash-list commands to the ``iblagh-officer`` parser."""
    lists = commands.add_parser(
        "hashlist", help="lists of known illegal media (sha256, md5, pdq, label, source)"
    ).add_subparsers(required=True, metavar="ACTION")
    load = lists.add_parser("import", help="import a CSV or JSON list, whole or not at all")
    add_you(load)
    load.add_argument("file", type=Path, help="the list (.csv with a header, or .json)")
    load.add_argument(
        "--max-distance",
        type=int,
        default=DEFAULT_MAX_DISTANCE,
        help=f"this list's PDQ match distance in bits (default {DEFAULT_MAX_DISTANCE})",
    )
    load.add_argument(
        "--signature",
        type=Path,
        help="a detached Ed25519 signature of the file (base64); needs --signer-key",
    )
    load.add_argument(
        "--signer-key",
        help="the base64 verify key of the list's publisher, pinned by the unit",
    )
    load.set_defaults(handler=helpers.bind(hashlist_import))
    show = lists.add_parser("list", help="lists imported so far")
    add_you(show)
    show.set_defaults(handler=helpers.bind(hashlist_list))


def hashlist_import(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    if not 0 <= args.max_distance <= 128:
        out.write("--max-distance is a number of bits from 0 to 128.\n")
        return 2
    if (args.signature is None) != (args.signer_key is None):
        out.write("--signature and --signer-key go together.\n")
        return 2
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.BATCHES_IMPORT)
    try:
        raw = args.file.read_bytes()
    except OSError as exc:
        out.write(f"Cannot read {args.file}: {exc.strerror}.\n")
        return 1
    signer = ""
    if args.signature is not None:
        try:
            signer = key_id_hex(
                verify_file(raw, args.signature.read_text(encoding="ascii"), args.signer_key)
            )
        except (OSError, UnicodeDecodeError, SignatureError):
            out.write(
                "List refused, nothing imported: its signature does not match the file and "
                "the publisher's key. Ask the publisher for the list again.\n"
            )
            return 1
    try:
        result = import_list(
            session,
            keyring.username,
            raw,
            args.file.name,
            max_distance=args.max_distance,
            signed_by=signer,
        )
    except HashListRefused as exc:
        session.rollback()
        out.write(f"List refused, nothing imported: {exc}. Fix the file and import it again.\n")
        return 1
    out.write(
        f"Imported list {result.list_id}: {result.entries} entries; "
        f"{result.matches} stored files match it (their cases are now urgent).\n"
    )
    return 0


def hashlist_list(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_LIST)
    for record in session.scalars(select(HashList).order_by(HashList.id)):
        out.write(
            f"{record.id}\t{record.name}\t{record.entry_count} entries\t"
            f"{record.imported_at:%Y-%m-%d %H:%M} UTC\t{record.imported_by}\n"
        )
    return 0
