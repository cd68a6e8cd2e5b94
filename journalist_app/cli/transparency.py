"""``iblagh-officer transparency``: the quarter's public report, as static HTML and PDF in
ar/fr/en/es.

The counts are noised once (OpenDP) and kept under the data dir, so running it again
writes the same figures. The pages are also queued, once, for the public host: the next
sync or outbound batch publishes them (journalist_app/transparency/delivery.py).
"""

import argparse
from pathlib import Path
from typing import Any, TextIO

from journalist_app import create_app
from journalist_app.cli.common import CliHelpers, add_you
from journalist_app.config import OfficerConfig
from journalist_app.transparency.publish import publish_quarter, write_pages, write_pdfs
from journalist_app.transparency.release import DEFAULT_EPSILON, DEFAULT_THRESHOLD, Quarter


def register(commands: "argparse._SubParsersAction[Any]", helpers: CliHelpers) -> None:
    """Add ``transparency`` to the ``iblagh-officer`` parser."""
    command = commands.add_parser(
        "transparency", help="(supervisor) write the quarter's public transparency report"
    )
    add_you(command)
    command.add_argument("--quarter", required=True, help="e.g. 2026-Q4")
    command.add_argument("--out", type=Path, required=True, help="folder to write into")
    command.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help=f"privacy budget of a new release (default {DEFAULT_EPSILON})",
    )
    command.add_argument(
        "--threshold",
        type=int,
        default=DEFAULT_THRESHOLD,
        help=f"smallest count shown (default {DEFAULT_THRESHOLD})",
    )
    command.set_defaults(handler=helpers.bind(transparency_command))


def transparency_command(
    args: argparse.Namespace, config: OfficerConfig, out: TextIO, *, helpers: CliHelpers
) -> int:
    quarter = Quarter.parse(args.quarter)
    if not 0 < args.epsilon <= 10 or args.threshold < 1:
        out.write("--epsilon is above 0 and at most 10; --threshold is 1 or more.\n")
        return 2
    session, keyring = helpers.unlocked(config, args.officer)
    published = publish_quarter(
        session,
        keyring,
        create_app(config),
        config.data_dir,
        quarter,
        epsilon=args.epsilon,
        threshold=args.threshold,
    )
    if not published.made_now:
        out.write(f"{quarter} was released before: the same noisy counts are written again.\n")
    for path in [*write_pages(published, args.out), *write_pdfs(published, args.out)]:
        out.write(f"wrote {path}\n")
    out.write(
        f"ε = {published.release.epsilon}, counts under {published.release.threshold} suppressed.\n"
    )
    if published.queued:
        out.write(
            f"{len(published.queued)} pages queued for the public host: they go with the next "
            "sync, or the next export-outbox of an air-gapped unit.\n"
        )
    return 0
