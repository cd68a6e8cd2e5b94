"""``iblagh-officer stats rebuild``: recount the dashboard's daily summary from the cases.

The summary (journalist_app/stats/summary.py) is kept in the transaction of every
change and counted at the upgrade that added it; this recounts it, and the cases' first
referral and first answer times, from what the database holds. For rows written behind
the application's back (a restore from an old dump, a bulk import). Idempotent; no key,
nothing decrypted.
"""

import argparse
from typing import Any, TextIO

from journalist_app.cli.common import CliHelpers
from journalist_app.config import OfficerConfig
from journalist_app.stats import summary


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``stats`` to the ``iblagh-officer`` parser."""
    command = commands.add_parser("stats", help="the dashboard's daily summary")
    actions = command.add_subparsers(dest="stats_action", required=True)
    rebuild = actions.add_parser(
        "rebuild", help="recount the daily summary and first-event times from the cases"
    )
    rebuild.set_defaults(handler=helpers.bind(rebuild_command))


def rebuild_command(
    _args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session = helpers.open_database(config)
    try:
        connection = session.connection()
        summary.fill_first_event_times(connection)
        rows = summary.rebuild(connection)
        session.commit()
    finally:
        session.close()
    out.write(f"daily summary recounted: {rows} rows\n")
    return 0
