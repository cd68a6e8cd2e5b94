"""``iblagh-officer``: set up unit keys and officers, export the public files, sync.

Passphrases come from ``IBLAGH_OFFICER_PASSPHRASE`` / ``IBLAGH_NEW_OFFICER_PASSPHRASE``
when set (scripts, tests), otherwise from a prompt that does not echo. Expected
failures print one line and exit 1; no traceback.
"""

import argparse
import getpass
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from crypto.encoding import b64encode
from journalist_app import custody
from journalist_app.config import ConfigError, OfficerConfig
from journalist_app.database import create_schema, make_engine, make_session_factory
from journalist_app.errors import KeysNotInitialised, MissingKey, OfficerError
from journalist_app.keyring import UnlockedKeyring
from journalist_app.recipient_sets import (
    issue_recipient_set,
    latest_public_files,
    write_public_files,
)
from journalist_app.sync import SyncEvent, run_sync

# Names of environment variables, not secrets.
PASSPHRASE_ENV = "IBLAGH_OFFICER_PASSPHRASE"  # noqa: S105
NEW_PASSPHRASE_ENV = "IBLAGH_NEW_OFFICER_PASSPHRASE"  # noqa: S105
DEMO_OFFICER = "demo"
DEMO_CREDENTIALS_FILE = "demo-credentials.txt"

Handler = Callable[[argparse.Namespace, OfficerConfig, TextIO], int]


class CliError(OfficerError):
    """A mistake on the command line or at a prompt."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args, OfficerConfig.from_env(os.environ), sys.stdout)
    except (OfficerError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iblagh-officer",
        description="Officer host of Iblagh. Configuration comes from IBLAGH_* variables.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    keys = commands.add_parser("keys", help="unit keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    init = keys.add_parser("init", help="create the unit keys and the first officer")
    init.add_argument("--officer", required=True, help="username of the first officer")
    init.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    init.set_defaults(handler=keys_init)

    officer = commands.add_parser("officer", help="officer accounts").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = officer.add_parser("add", help="add an officer, granted the keys you hold")
    add.add_argument("--officer", required=True, help="your username (you unlock)")
    add.add_argument("--new", required=True, help="username of the new officer")
    add.set_defaults(handler=officer_add)

    sync = commands.add_parser("sync", help="pull reports from the public host, push replies")
    sync.add_argument("--officer", required=True, help="your username (you unlock)")
    sync.set_defaults(handler=sync_now)

    demo = commands.add_parser("demo-init", help="demo keys and login for 'make run' only")
    demo.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    demo.set_defaults(handler=demo_init)

    export = commands.add_parser("export-public", help="sign and write the public files anew")
    export.add_argument("--officer", required=True, help="your username (you unlock)")
    export.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    export.set_defaults(handler=export_public)
    return parser


# --- commands ---------------------------------------------------------------------------


def keys_init(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    if custody.keys_initialised(session):
        raise CliError(f"unit keys already exist in {config.data_dir}; nothing was changed")
    custody.check_username(args.officer)
    passphrase = _new_passphrase(PASSPHRASE_ENV, f"passphrase for {args.officer}")
    result = custody.init_unit_keys(session, args.officer, passphrase, config.wrap_params)
    _write_public(session, args.public_out, out)
    print(f"unit keys created in {config.data_dir}; officer {args.officer!r} can log in", file=out)
    print(
        "\nRECOVERY SECRET: shown this once and stored nowhere. Write it down or print it and\n"
        "keep it in the safe: it opens every report if all intake keys are lost.\n"
        f"recovery secret: {b64encode(result.recovery_secret)}\n",
        file=out,
    )
    return 0


def officer_add(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    custody.check_username(args.new)
    keyring = _unlock(session, config, args.officer)
    passphrase = _new_passphrase(NEW_PASSPHRASE_ENV, f"passphrase for the new officer {args.new}")
    custody.add_officer(session, keyring, args.new, passphrase, config.wrap_params)
    print(f"officer {args.new!r} added, granted the keys {args.officer!r} holds", file=out)
    return 0


def sync_now(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    keyring = _unlock(session, config, args.officer)
    print(f"syncing with {config.sync_url}", file=out, flush=True)
    result = run_sync(session, config, keyring, progress=lambda event: _print_event(event, out))
    print(result.summary(), file=out)
    return 0


def demo_init(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    credentials = config.data_dir / DEMO_CREDENTIALS_FILE
    if not custody.keys_initialised(session):
        passphrase = secrets.token_urlsafe(18)
        custody.init_unit_keys(session, DEMO_OFFICER, passphrase, config.wrap_params)
        _write_demo_credentials(credentials, passphrase)
        print(f"demo unit keys created in {config.data_dir} (recovery secret discarded)", file=out)
    elif not credentials.exists():
        raise CliError(
            f"{config.data_dir} holds unit keys that demo-init did not make; "
            "use 'export-public' for real keys"
        )
    username, passphrase = _read_demo_credentials(credentials)
    _write_public(session, args.public_out, out)
    print(f"DEMO ONLY: log in as {username} with passphrase {passphrase}", file=out)
    return 0


def export_public(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    if not custody.keys_initialised(session):
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    keyring = _unlock(session, config, args.officer)
    if keyring.signing_key is None:
        raise MissingKey(f"officer {args.officer!r} holds no unit signing key")
    issue_recipient_set(session, keyring.signing_key, datetime.now(UTC))
    session.commit()
    _write_public(session, args.public_out, out)
    return 0


# --- helpers ----------------------------------------------------------------------------


def _open_database(config: OfficerConfig) -> Session:
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    create_schema(engine)
    return make_session_factory(engine)()


def _unlock(session: Session, config: OfficerConfig, username: str) -> UnlockedKeyring:
    passphrase = os.environ.get(PASSPHRASE_ENV) or _ask(
        f"passphrase for {username}: ", PASSPHRASE_ENV
    )
    return custody.unlock(session, username, passphrase, config.wrap_params)


def _new_passphrase(env_name: str, what: str) -> str:
    from_env = os.environ.get(env_name)
    if from_env:
        custody.check_passphrase(from_env)
        return from_env
    first = _ask(f"{what} (at least {custody.MIN_PASSPHRASE_LENGTH} characters): ", env_name)
    custody.check_passphrase(first)
    if _ask(f"{what}, again: ", env_name) != first:
        raise CliError("the two passphrases differ; nothing was changed")
    return first


def _ask(prompt: str, env_name: str) -> str:
    try:
        return getpass.getpass(prompt)
    except EOFError:
        raise CliError(f"no passphrase given: set {env_name} or run in a terminal") from None


def _write_public(session: Session, directory: Path, out: TextIO) -> None:
    for path in write_public_files(directory, latest_public_files(session)):
        print(f"wrote {path}", file=out)


def _print_event(event: SyncEvent, out: TextIO) -> None:
    lines = {
        "stored": f"stored {event.id} ({event.detail})",
        "already_stored": f"already stored {event.id}",
        "failed": f"not stored {event.id}: {event.detail}",
        "reply_pushed": f"reply pushed {event.id}",
        "reply_failed": f"reply not pushed {event.id}: {event.detail}",
    }
    print(lines[event.kind], file=out, flush=True)


def _write_demo_credentials(path: Path, passphrase: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "# DEMO ONLY: written by 'iblagh-officer demo-init' for 'make run'.\n"
            "# Never put real reports on a demo installation.\n"
            f"username: {DEMO_OFFICER}\n"
            f"passphrase: {passphrase}\n"
        )


def _read_demo_credentials(path: Path) -> tuple[str, str]:
    fields = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and not key.startswith("#"):
            fields[key] = value
    if "username" not in fields or "passphrase" not in fields:
        raise CliError(f"{path} is damaged; remove the data dir to start the demo afresh")
    return fields["username"], fields["passphrase"]


if __name__ == "__main__":
    sys.exit(main())
