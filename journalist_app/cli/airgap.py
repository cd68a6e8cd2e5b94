"""``iblagh-officer`` commands of the air gap (docs/batch.md).

On the connected machine: ``connected-host setup``, ``export``, ``upload``.
On the offline officer host: ``connected-host export``, ``import``, ``export-outbox``.

Registered by journalist_app/cli/main.py, which hands over its database, unlock and
passphrase helpers so the commands here log in exactly like the others.
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from crypto.encoding import b64decode
from crypto.errors import CryptoError
from journalist_app.airgap import batch_files, connected_host, inbound, outbound
from journalist_app.cli.common import NEW_PASSPHRASE_ENV, CliHelpers, add_you
from journalist_app.cli.progress import Phases, say
from journalist_app.config import OfficerConfig
from journalist_app.sync.pull import SyncEvent


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add the air-gap commands to the ``iblagh-officer`` parser."""

    host = commands.add_parser(
        "connected-host", help="set up the connected machine of an air-gapped unit"
    ).add_subparsers(required=True, metavar="ACTION")
    kit = host.add_parser(
        "export", help="(offline host) write the kit: an account holding the sync key only"
    )
    add_you(kit)
    kit.add_argument("--out", required=True, type=Path, help="kit file to write")
    kit.add_argument("--as", dest="account", help="account name there (default: yours)")
    kit.set_defaults(handler=helpers.bind(kit_export))
    setup = host.add_parser("setup", help="(connected machine) set up this data dir from a kit")
    setup.add_argument("kit", type=Path, help="kit file from 'connected-host export'")
    setup.add_argument(
        "--unit-verify-key", type=Path, help="the 'unit-verify-key' file, to pin the unit's key"
    )
    setup.set_defaults(handler=helpers.bind(kit_setup))

    export = commands.add_parser(
        "export", help="(connected machine) write what the public host holds into a batch"
    )
    add_you(export)
    export.add_argument("--out", required=True, type=Path, help="batch file to write")
    export.add_argument(
        "--limit", type=int, default=inbound.MAX_LISTING, help="at most this many submissions"
    )
    export.set_defaults(handler=helpers.bind(export_batch))

    import_ = commands.add_parser(
        "import", help="(offline host) verify an inbound batch and store its reports"
    )
    add_you(import_)
    import_.add_argument("batch", type=Path, help="batch file from 'export'")
    import_.set_defaults(handler=helpers.bind(import_batch))

    outbox_ = commands.add_parser(
        "export-outbox",
        help="(offline host) write acknowledgements and replies into a signed batch",
    )
    add_you(outbox_)
    outbox_.add_argument("--out", required=True, type=Path, help="batch file to write")
    outbox_.add_argument(
        "--all",
        dest="include_all",
        action="store_true",
        help="everything not yet confirmed, also what an earlier batch carried (one was lost)",
    )
    outbox_.set_defaults(handler=helpers.bind(export_outbox))

    upload = commands.add_parser(
        "upload", help="(connected machine) verify an outbound batch and apply it"
    )
    add_you(upload)
    upload.add_argument("batch", type=Path, help="batch file from 'export-outbox'")
    upload.set_defaults(handler=helpers.bind(upload_batch))


# --- connected-host ---------------------------------------------------------------------


def kit_export(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    account = args.account or args.officer
    passphrase = helpers.new_passphrase(
        NEW_PASSPHRASE_ENV, f"passphrase of {account} on the connected machine", ""
    )
    kit = connected_host.export_kit(session, keyring, account, passphrase, config.wrap_params)
    with batch_files.atomic_output(args.out) as (handle, publish):
        handle.write(kit)
        publish()
    print(
        f"wrote {args.out}: account {account!r} holding the sync key only. Carry it to the "
        "connected machine and run 'iblagh-officer connected-host setup' there, then delete it.",
        file=out,
    )
    return 0


def kit_setup(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session = helpers.open_database(config)
    pinned = None
    if args.unit_verify_key is not None:
        try:
            pinned = b64decode(args.unit_verify_key.read_text().strip(), length=32)
        except (OSError, CryptoError) as exc:
            raise connected_host.InvalidKit(f"cannot read {args.unit_verify_key}: {exc}") from exc
    try:
        raw = args.kit.read_bytes()
    except OSError as exc:
        raise connected_host.InvalidKit(f"cannot read {args.kit}: {exc.strerror}") from exc
    installed = connected_host.install_kit(session, raw, pinned)
    print(
        f"connected machine set up in {config.data_dir}: account {installed.username!r}, "
        f"sync key {installed.sync_key_id}, unit verify key {installed.unit_verify_key_id}",
        file=out,
    )
    return 0


# --- inbound ------------------------------------------------------------------------------


def export_batch(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    with Phases() as phases:
        phases.start("listing")

        def on_event(event: SyncEvent) -> None:
            phases.advance()
            if event.kind == "failed":
                say(f"left out {event.id}: {event.detail}", out)

        result = inbound.export_inbound(
            session,
            config,
            keyring,
            args.out,
            limit=args.limit,
            on_listing=lambda total: phases.start("exporting", total, unit="submission"),
            progress=on_event,
        )
    print(f"{result.summary()}; wrote {args.out}", file=out)
    return 0


def import_batch(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    with Phases() as phases:
        # Read twice: signature first, then staging (airgap/batch_files.py).
        phases.start("verifying", _read_twice(args.batch), in_bytes=True)

        def on_event(event: SyncEvent) -> None:
            phases.advance()
            if event.kind == "failed":
                say(f"not stored {event.id}: {event.detail}", out)

        result = inbound.import_inbound(
            session,
            config,
            keyring,
            args.batch,
            on_verified=lambda total: phases.start("storing", total, unit="submission"),
            byte_progress=phases.advance,
            progress=on_event,
        )
    for reply_id in result.replies_failed:
        print(f"reply {reply_id} was refused by the public host (unknown reporter)", file=out)
    print(result.summary(), file=out)
    return 0


# --- outbound ------------------------------------------------------------------------------


def export_outbox(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    with Phases() as phases:
        pending = outbound.count_pending(session, args.include_all, config.data_dir)
        phases.start("exporting", pending, unit="entry")
        result = outbound.export_outbox(
            session,
            keyring,
            args.out,
            include_all=args.include_all,
            progress=lambda _what: phases.advance(),
            anchor_copies=config.data_dir,
            data_dir=config.data_dir,
        )
    print(f"{result.summary()}; wrote {args.out}", file=out)
    return 0


def upload_batch(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    with Phases() as phases:
        # Read twice: signature first, then staging (airgap/batch_files.py).
        phases.start("verifying", _read_twice(args.batch), in_bytes=True)
        result = outbound.upload_outbox(
            session,
            config,
            keyring,
            args.batch,
            on_verified=lambda total: phases.start("uploading", total, unit="entry"),
            byte_progress=phases.advance,
            progress=lambda _what: phases.advance(),
        )
    print(result.summary(), file=out)
    return 0


def _read_twice(path: Path) -> int | None:
    size = _size(path)
    return None if size is None else 2 * size


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None
