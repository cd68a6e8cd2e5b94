"""``iblagh-officer purge``, ``hold`` and ``retention``: the data lifecycle from the command line.

``purge`` destroys every case whose retention has run out (docs/retention.md), one
transaction per case, with a tombstone in the audit log for each, then rebuilds the
database file; ``--dry-run`` lists what would go. ``hold`` sets or lifts a legal hold.
"""

import argparse
from typing import Any, TextIO

from journalist_app.cli.common import CliHelpers, add_you
from journalist_app.cli.progress import progress_bar, say
from journalist_app.clock import utc_now
from journalist_app.config import OfficerConfig
from journalist_app.models import Case
from journalist_app.retention.holds import set_hold
from journalist_app.retention.purge import compact, purge_due
from journalist_app.retention.rules import load_rules
from journalist_app.retention.schedule import CaseRetention, due_cases, retention_of
from journalist_app.roles import Permission, check_permission
from journalist_app.triage.workflow import get_case


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``purge``, ``hold`` and ``retention`` to the ``iblagh-officer`` parser."""
    purge = commands.add_parser(
        "purge", help="(supervisor) destroy the cases whose retention has run out"
    )
    add_you(purge)
    purge.add_argument("--dry-run", action="store_true", help="list what would go; change nothing")
    purge.add_argument(
        "--no-compact", action="store_true", help="skip rebuilding the database file afterwards"
    )
    purge.set_defaults(handler=helpers.bind(purge_command))

    hold = commands.add_parser("hold", help="(supervisor) set or lift a case's legal hold")
    add_you(hold)
    hold.add_argument("--case", type=int, required=True, help="case number")
    hold.add_argument("--reason", required=True, help="why (10 to 1000 characters; audited)")
    hold.add_argument("--lift", action="store_true", help="lift the hold instead of setting it")
    hold.set_defaults(handler=helpers.bind(hold_command))

    show = commands.add_parser("retention", help="a case's retention rule and purge date")
    add_you(show)
    show.add_argument("--case", type=int, required=True, help="case number")
    show.set_defaults(handler=helpers.bind(show_command))


def purge_command(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.RETENTION_MANAGE)
    rules = load_rules()
    now = utc_now()
    if args.dry_run:
        count = 0
        for due in due_cases(session, rules, now):
            for retention in due:
                out.write(_line(retention) + "\n")
                count += 1
        out.write(f"{count} case(s) due for purge; nothing was changed (--dry-run).\n")
        return 0
    with progress_bar("purging", unit="case") as bar:

        def on_case(retention: CaseRetention) -> None:
            bar.update()
            say(f"purged {_line(retention)}", out)

        result = purge_due(session, keyring, config.data_dir, rules, now=now, progress=on_case)
    if result.cases and not args.no_compact:
        say("rebuilding the database file so no free page keeps a purged row", out)
        compact(session)
    out.write(
        f"{result.cases} case(s) purged: {result.reports} report(s), {result.blobs} file(s), "
        f"{result.rows} row(s); a tombstone for each is in the audit log "
        "(iblagh-officer audit verify checks the chain).\n"
    )
    return 0


def hold_command(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    set_hold(session, keyring, args.case, not args.lift, args.reason)
    out.write(f"case {args.case}: legal hold {'lifted' if args.lift else 'set'} (audited).\n")
    return 0


def show_command(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    session, keyring = helpers.unlocked(config, args.officer)
    check_permission(keyring, Permission.REPORTS_LIST)
    case: Case = get_case(session, args.case)
    out.write(_line(retention_of(session, [case], load_rules())[case.id]) + "\n")
    return 0


def _line(retention: CaseRetention) -> str:
    purge_on = retention.purge_on
    when = (
        "on legal hold"
        if retention.held
        else (f"purge on {purge_on:%Y-%m-%d}" if purge_on else "kept while open")
    )
    return (
        f"case {retention.case_id}\t{retention.category or '-'}\t{retention.status}"
        f"{':' + retention.close_reason if retention.close_reason else ''}\t"
        f"rule {retention.rule.key}\t{when}"
    )
