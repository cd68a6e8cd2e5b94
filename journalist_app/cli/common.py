"""What the ``iblagh-officer`` command modules share (cli.py, cli_accounts.py, cli_airgap.py).

journalist_app/cli/main.py builds one :class:`CliHelpers` (database, unlock and passphrase
helpers) and hands it to the modules that register further commands, so every command
logs in exactly like the others.
"""

import argparse
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from sqlalchemy.orm import Session

from journalist_app.accounts.totp import Enrolment, load_or_create_totp_key
from journalist_app.config import OfficerConfig
from journalist_app.keys.keyring import UnlockedKeyring

# Names of environment variables, not secrets.
PASSPHRASE_ENV = "IBLAGH_OFFICER_PASSPHRASE"  # noqa: S105
NEW_PASSPHRASE_ENV = "IBLAGH_NEW_OFFICER_PASSPHRASE"  # noqa: S105

Handler = Callable[[argparse.Namespace, OfficerConfig, TextIO], int]


@dataclass(frozen=True)
class CliHelpers:
    """What the commands need from journalist_app/cli/main.py."""

    open_database: Callable[[OfficerConfig], Session]
    # (session, config, username, first_passphrase=...) -> keyring
    unlock: Callable[..., UnlockedKeyring]
    # (environment variable, what for, username) -> a new passphrase that meets the policy
    new_passphrase: Callable[[str, str, str], str]
    # (prompt, environment variable) -> what was typed
    ask: Callable[[str, str], str]
    write_public: Callable[[Session, Path, TextIO], None]
    print_enrolment: Callable[[str, Enrolment | None, TextIO], None]

    def unlocked(
        self, config: OfficerConfig, username: str, *, first_passphrase: bool = False
    ) -> tuple[Session, UnlockedKeyring]:
        """Open the database and unlock ``username`` for this command."""
        session = self.open_database(config)
        if first_passphrase:
            return session, self.unlock(session, config, username, first_passphrase=True)
        return session, self.unlock(session, config, username)

    def bind(self, handler: Callable[..., int]) -> Handler:
        """``handler`` with these helpers, as a parser's ``handler`` default."""
        return functools.partial(handler, helpers=self)


def add_you(parser: argparse.ArgumentParser) -> None:
    """``--officer``: the one who unlocks to run the command."""
    parser.add_argument("--officer", required=True, help="your username (you unlock)")


def load_totp_key(config: OfficerConfig) -> bytes:
    """The key that seals two-factor secrets on this host (made on first use)."""
    return load_or_create_totp_key(config.ensure_data_dir())
