"""``iblagh-officer``: set up unit keys and officers, export the public files, sync.

Passphrases come from ``IBLAGH_OFFICER_PASSPHRASE`` / ``IBLAGH_NEW_OFFICER_PASSPHRASE``
when set (scripts, tests), otherwise from a prompt that does not echo. Expected
failures print one line and exit 1; no traceback. Account, key-rotation, recovery and
audit commands live in cli_accounts.py, air-gap commands in cli_airgap.py.
"""

import argparse
import contextvars
import getpass
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from crypto.encoding import b64encode
from journalist_app import audit
from journalist_app.accounts import officers
from journalist_app.accounts.login import unlock_for_command
from journalist_app.accounts.passphrase import MIN_PASSPHRASE_LENGTH, check_passphrase
from journalist_app.accounts.totp import Enrolment, next_usable_code, open_secret
from journalist_app.cli import accounts as cli_accounts
from journalist_app.cli import airgap as cli_airgap
from journalist_app.cli import backup as cli_backup
from journalist_app.cli import hashlists as cli_hashlists
from journalist_app.cli import privacy as cli_privacy
from journalist_app.cli import referral as cli_referral
from journalist_app.cli import retention as cli_retention
from journalist_app.cli import stats as cli_stats
from journalist_app.cli import transparency as cli_transparency
from journalist_app.cli.common import (
    NEW_PASSPHRASE_ENV,
    PASSPHRASE_ENV,
    CliHelpers,
    Handler,
    add_you,
    load_totp_key,
)
from journalist_app.cli.progress import progress_bar, say
from journalist_app.clock import utc_now
from journalist_app.config import ConfigError, OfficerConfig, passphrase_from_env
from journalist_app.database import make_engine, make_session_factory
from journalist_app.errors import KeysNotInitialised, MissingKey, OfficerError, SyncError
from journalist_app.keys import custody
from journalist_app.keys import rotation as key_ops
from journalist_app.keys.keyring import UnlockedKeyring
from journalist_app.keys.recipient_sets import latest_public_files, write_public_files
from journalist_app.models import Officer
from journalist_app.referral.demo import DemoHomeError, set_up_demo_partners
from journalist_app.referral.unit_key import current_unit_key
from journalist_app.roles import Role, parse_role
from journalist_app.schema import SchemaError, current_revision, upgrade_to_head
from journalist_app.stats.demo_cases import DEMO_CASES, seed_demo_cases
from journalist_app.sync.blob_store_s3 import open_blob_store
from journalist_app.sync.pull import SyncEvent, run_sync
from journalist_app.triage.categories import use_process_categories

DEMO_OFFICER = "demo"
DEMO_ADMIN = "demo-admin"
DEMO_CREDENTIALS_FILE = "demo-credentials.txt"
# The command being run ("keys rotate"), for the audit entry of its unlock.
_COMMAND: contextvars.ContextVar[str] = contextvars.ContextVar("command", default="")
# Sessions the command opened, closed when it ends: main() also runs in-process (tests,
# demo-init), where a session left open keeps its transaction, and on PostgreSQL its locks.
_OPENED: contextvars.ContextVar[list[tuple[Session, Engine]] | None] = contextvars.ContextVar(
    "opened", default=None
)


class CliError(OfficerError):
    """A mistake on the command line or at a prompt."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    _COMMAND.set(_command_name(sys.argv[1:] if argv is None else argv))
    args = _parser().parse_args(argv)
    handler: Handler = args.handler
    opened = _OPENED.set([])
    try:
        config = OfficerConfig.from_env(os.environ)
        use_process_categories(config.categories)
        return handler(args, config, sys.stdout)
    except (OfficerError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        for session, engine in _OPENED.get() or []:
            session.close()
            engine.dispose()
        _OPENED.reset(opened)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iblagh-officer",
        description="Officer host of Iblagh. Configuration comes from IBLAGH_* variables.",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    keys = commands.add_parser("keys", help="unit keys").add_subparsers(
        required=True, metavar="ACTION"
    )
    init = keys.add_parser("init", help="create the unit keys and the first officer (supervisor)")
    init.add_argument("--officer", required=True, help="username of the first officer")
    init.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    init.set_defaults(handler=keys_init)

    officer = commands.add_parser("officer", help="officer accounts").add_subparsers(
        required=True, metavar="ACTION"
    )
    add = officer.add_parser("add", help="(admin) add an officer; they type their passphrase")
    add_you(add)
    add.add_argument("--new", required=True, help="username of the new officer")
    add.add_argument(
        "--role",
        default=Role.ANALYST.value,
        choices=[role.value for role in Role],
        help="role of the new officer (default: analyst)",
    )
    add.set_defaults(handler=officer_add)

    upgrade = commands.add_parser(
        "upgrade", help="apply the database migrations this release brings (back up first)"
    )
    upgrade.set_defaults(handler=upgrade_database)

    sync = commands.add_parser("sync", help="pull reports from the public host, push replies")
    add_you(sync)
    sync.set_defaults(handler=sync_now)

    demo = commands.add_parser("demo-init", help="demo keys and login for 'make run' only")
    demo.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    demo.add_argument(
        "--partners-out",
        type=Path,
        default=None,
        help="folder for the demo referral partners' GnuPG homes (default: beside the data dir)",
    )
    demo.add_argument(
        "--demo-cases",
        type=int,
        default=DEMO_CASES,
        help=f"made-up cases over the last quarter for the dashboard, into a database that "
        f"holds none (default {DEMO_CASES}; 0 for none)",
    )
    demo.set_defaults(handler=demo_init)
    demo_code_parser = commands.add_parser(
        "demo-code", help="DEMO ONLY: print a two-factor code a demo account can log in with"
    )
    demo_code_parser.add_argument(
        "--officer", default=DEMO_OFFICER, help=f"demo account (default: {DEMO_OFFICER})"
    )
    demo_code_parser.set_defaults(handler=demo_code)

    export = commands.add_parser("export-public", help="sign and write the public files anew")
    add_you(export)
    export.add_argument("--public-out", required=True, type=Path, help="folder for public files")
    export.set_defaults(handler=export_public)

    helpers = CliHelpers(
        open_database=_open_database,
        unlock=_unlock,
        new_passphrase=_new_passphrase,
        ask=_ask,
        write_public=_write_public,
        print_enrolment=_print_enrolment,
    )
    cli_airgap.register(commands, helpers)
    cli_backup.register(commands, helpers)
    cli_hashlists.register(commands, helpers)
    cli_retention.register(commands, helpers)
    cli_privacy.register(commands, helpers)
    cli_transparency.register(commands, helpers)
    cli_stats.register(commands, helpers)
    cli_referral.register(commands, helpers)
    cli_accounts.register(commands, keys, officer, helpers)
    return parser


# --- commands ---------------------------------------------------------------------------


def keys_init(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    if custody.keys_initialised(session):
        raise CliError(f"unit keys already exist in {config.data_dir}; nothing was changed")
    custody.check_username(args.officer)
    passphrase = _new_passphrase(PASSPHRASE_ENV, f"passphrase for {args.officer}", args.officer)
    result = custody.init_unit_keys(
        session, args.officer, passphrase, config.wrap_params, totp_key=load_totp_key(config)
    )
    _record_init(session, args.officer)
    _write_public(session, args.public_out, out)
    print(
        f"unit keys created in {config.data_dir}; officer {args.officer!r} (supervisor) can log in",
        file=out,
    )
    _print_enrolment(args.officer, result.totp, out)
    print(
        "\nRECOVERY SECRET: shown this once and stored nowhere. Write it down or print it and\n"
        "keep it in the safe: it opens every report and identity section if all intake and\n"
        "identity keys are lost.\n"
        f"recovery secret: {b64encode(result.recovery_secret)}\n",
        file=out,
    )
    return 0


def officer_add(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    custody.check_username(args.new)
    role = parse_role(args.role)
    keyring = _unlock(session, config, args.officer)
    passphrase = _new_passphrase(
        NEW_PASSPHRASE_ENV, f"passphrase for the new officer {args.new}", args.new
    )
    created = officers.create_officer(
        session,
        keyring,
        args.new,
        role,
        params=config.wrap_params,
        totp_key=load_totp_key(config),
        passphrase=passphrase,
    )
    granted = ", ".join(created.granted) or "no key"
    print(f"officer {args.new!r} ({role.value}) added, granted: {granted}", file=out)
    _print_enrolment(args.new, created.enrolment, out)
    return 0


def sync_now(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    keyring = _unlock(session, config, args.officer)
    print(f"syncing with {config.sync_url}", file=out, flush=True)
    with progress_bar("syncing", unit="submission") as bar:

        def on_event(event: SyncEvent) -> None:
            bar.update()
            _print_event(event, out)

        try:
            result = run_sync(session, config, keyring, progress=on_event)
        except (MissingKey, SyncError) as exc:
            session.rollback()
            audit.record_sync(session, keyring, None, error=exc, via="cli")
            session.commit()
            raise
    audit.record_sync(session, keyring, result, via="cli")
    session.commit()
    print(result.summary(), file=out)
    return 0


def demo_init(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    credentials = config.data_dir / DEMO_CREDENTIALS_FILE
    if not custody.keys_initialised(session):
        totp_key = load_totp_key(config)
        officer_passphrase = officers.generate_passphrase()
        admin_passphrase = officers.generate_passphrase()
        officers.create_first_admin(
            session, DEMO_ADMIN, admin_passphrase, params=config.wrap_params, totp_key=totp_key
        )
        custody.init_unit_keys(
            session, DEMO_OFFICER, officer_passphrase, config.wrap_params, totp_key=totp_key
        )
        _record_init(session, DEMO_OFFICER)
        _write_demo_credentials(
            credentials, {DEMO_OFFICER: officer_passphrase, DEMO_ADMIN: admin_passphrase}
        )
        print(f"demo unit keys created in {config.data_dir} (recovery secret discarded)", file=out)
    elif not credentials.exists():
        raise CliError(
            f"{config.data_dir} holds unit keys that demo-init did not make; "
            "use 'export-public' for real keys"
        )
    logins = _read_demo_credentials(credentials)
    _demo_partners(session, config, logins[DEMO_OFFICER], args.partners_out, out)
    if args.demo_cases > 0:
        _demo_cases(session, config, logins[DEMO_OFFICER], args.demo_cases, out)
    _write_public(session, args.public_out, out)
    code_command = f"IBLAGH_DATA_DIR={config.data_dir} {_program()} demo-code"
    for username, passphrase in logins.items():
        officer = session.scalar(select(Officer).where(Officer.username == username))
        role = officer.role if officer else "?"
        secret = _demo_totp_secret(session, config, username)
        option = "" if username == DEMO_OFFICER else f" --officer {username}"
        print(
            f"DEMO ONLY: log in as {username} ({role}) with passphrase {passphrase}\n"
            f"  two-factor: add the secret {secret} to an authenticator app, or get the "
            f"current code with: {code_command}{option}",
            file=out,
        )
    return 0


def _demo_partners(
    session: Session, config: OfficerConfig, passphrase: str, partners_out: Path | None, out: TextIO
) -> None:
    """The demo directory with keys, the unit's OpenPGP key and the receiving side's
    GnuPG homes (first run only; journalist_app/referral/demo.py)."""
    if current_unit_key(session) is not None:
        return
    keyring = custody.unlock(session, DEMO_OFFICER, passphrase, config.wrap_params)
    partners_dir = partners_out or config.data_dir.parent / "demo-partners"
    try:
        set_up_demo_partners(session, keyring, partners_dir)
    except DemoHomeError as exc:
        print(f"demo referral partners: {exc}", file=out)
        return
    print(f"demo referral partners (stock GnuPG homes) in {partners_dir}", file=out)


def _demo_cases(
    session: Session, config: OfficerConfig, passphrase: str, count: int, out: TextIO
) -> None:
    """A quarter of made-up cases for the dashboard (journalist_app/stats/demo_cases.py), into a
    demo database that holds none yet."""
    keyring = custody.unlock(session, DEMO_OFFICER, passphrase, config.wrap_params)
    seeded = seed_demo_cases(session, open_blob_store(config), keyring, utc_now(), count=count)
    if seeded.cases:
        print(
            f"demo cases: {seeded.reports} made-up reports over the last quarter "
            f"({seeded.cases} cases) for the dashboard",
            file=out,
        )


def demo_code(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    """A code a demo account can log in with now: for newcomers without an authenticator."""
    credentials = config.data_dir / DEMO_CREDENTIALS_FILE
    if not credentials.exists():
        raise CliError("demo-code works on a demo installation only (made by 'demo-init')")
    if args.officer not in _read_demo_credentials(credentials):
        raise CliError(f"{args.officer!r} is not a demo account")
    session = _open_database(config)
    officer = session.scalar(select(Officer).where(Officer.username == args.officer))
    if officer is None:
        raise CliError(f"{args.officer!r} is not a demo account")
    secret = _demo_totp_secret(session, config, args.officer)
    code = next_usable_code(secret, datetime.now(UTC), officer.totp_last_step)
    if code is None:
        raise CliError("the last codes were used already: try again in 30 seconds")
    print(code, file=out)
    return 0


def export_public(args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    session = _open_database(config)
    if not custody.keys_initialised(session):
        raise KeysNotInitialised("no unit keys yet: run 'iblagh-officer keys init'")
    keyring = _unlock(session, config, args.officer)
    key_ops.issue_public_files(session, keyring)
    _write_public(session, args.public_out, out)
    return 0


# --- helpers ----------------------------------------------------------------------------


def _open_database(config: OfficerConfig) -> Session:
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    upgrade_to_head(engine)
    session = make_session_factory(engine)()
    if (opened := _OPENED.get()) is not None:
        opened.append((session, engine))
    return session


def upgrade_database(_args: argparse.Namespace, config: OfficerConfig, out: TextIO) -> int:
    """Apply the migrations the database lacks (start-up does too; this says what it did)."""
    config.ensure_data_dir()
    engine = make_engine(config.database_url)
    try:
        with engine.connect() as connection:
            before = current_revision(connection)
        after = upgrade_to_head(engine)
    except SchemaError as exc:
        print(f"iblagh-officer upgrade: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    if before == after:
        print(f"database already at {after}", file=out)
    else:
        print(f"database upgraded from {before or 'no version'} to {after}", file=out)
    return 0


def _unlock(
    session: Session, config: OfficerConfig, username: str, *, first_passphrase: bool = False
) -> UnlockedKeyring:
    """Unlock for this command (lockout and audit as for a login; no TOTP, see docs/keys.md)."""
    passphrase = passphrase_from_env(PASSPHRASE_ENV) or _ask(
        f"passphrase for {username}: ", PASSPHRASE_ENV
    )
    return unlock_for_command(
        session,
        username,
        passphrase,
        params=config.wrap_params,
        command=_COMMAND.get() or "cli",
        allow_one_time_passphrase=first_passphrase,
    )


def _new_passphrase(env_name: str, what: str, username: str = "") -> str:
    from_env = passphrase_from_env(env_name)
    if from_env:
        check_passphrase(from_env, username)
        return from_env
    first = _ask(f"{what} (at least {MIN_PASSPHRASE_LENGTH} characters): ", env_name)
    check_passphrase(first, username)
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
    say(lines[event.kind], out)


def _command_name(argv: Sequence[str]) -> str:
    """ "keys rotate" out of "keys rotate --officer ana": what the audit log names."""
    words: list[str] = []
    for word in argv:
        if word.startswith("-") or len(words) == 2:
            break
        words.append(word)
    return " ".join(words)


def _print_enrolment(username: str, enrolment: Enrolment | None, out: TextIO) -> None:
    if enrolment is None:
        return
    print(
        f"\nTWO-FACTOR for {username}: shown this once. Add it to an authenticator app\n"
        "(type the secret, or open the otpauth address on the device):\n"
        f"two-factor secret: {enrolment.secret}\n"
        f"two-factor uri: {enrolment.uri}\n",
        file=out,
    )


def _record_init(session: Session, username: str) -> None:
    audit.record(session, username, audit.Action.KEYS_INITIALISED, audit.officer_target(username))
    session.commit()


def _program() -> str:
    name = Path(sys.argv[0])
    return str(name) if name.name == "iblagh-officer" else "iblagh-officer"


def _demo_totp_secret(session: Session, config: OfficerConfig, username: str) -> str:
    officer = session.scalar(select(Officer).where(Officer.username == username))
    if officer is None or officer.totp_secret_sealed is None:
        raise CliError(f"{username!r} has no two-factor secret; remove the data dir and rerun")
    return open_secret(load_totp_key(config), username, officer.totp_secret_sealed)


def _write_demo_credentials(path: Path, logins: dict[str, str]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(
            "# DEMO ONLY: written by 'iblagh-officer demo-init' for 'make run'.\n"
            "# Never put real reports on a demo installation.\n"
        )
        for username, passphrase in logins.items():
            handle.write(f"login: {username} {passphrase}\n")


def _read_demo_credentials(path: Path) -> dict[str, str]:
    logins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(": ")
        if sep and key == "login" and " " in value:
            username, _, passphrase = value.partition(" ")
            logins[username] = passphrase
    if DEMO_OFFICER not in logins:
        raise CliError(f"{path} is damaged; remove the data dir to start the demo afresh")
    return logins


if __name__ == "__main__":
    sys.exit(main())
