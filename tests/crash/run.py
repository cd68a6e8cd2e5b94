"""``python -m tests.crash.run``: the crash-safety soak (``make soak``), with its figures.

    python -m tests.crash.run                       # 100 kills per target, seed 1
    python -m tests.crash.run --kills 20 --seed 7   # shorter; another seed
    python -m tests.crash.run --only sync           # one target: public, sync, import

Each kill's delay is printed as it happens; the seed reproduces the sequence of delays
(where they fall still depends on the machine's speed). Exits 1 on any loss, half report,
duplicate, undecryptable report or stray file, listing each.
"""

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

# The officer host takes IBLAGH_KDF=fast only from a test run (tests/conftest.py).
os.environ["IBLAGH_TESTING"] = "1"

from tests.crash.figures import Figures, table
from tests.crash.officer import crash_import, crash_sync
from tests.crash.public_host import crash_public_host

# Reports the public host keeps ready for the officer's side: short and long forms.
SHORT_REPORTS = 30
SOAK_REPORTS = 150

Target = Callable[[Path, int, int, Callable[[str], None]], Figures]


def targets(reports: int) -> dict[str, Target]:
    return {
        "public": crash_public_host,
        "sync": lambda work, kills, seed, say: crash_sync(work, kills, seed, reports, say),
        "import": lambda work, kills, seed, say: crash_import(work, kills, seed, reports, say),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash.run", description=__doc__)
    parser.add_argument("--kills", type=int, default=100, help="SIGKILLs per target")
    parser.add_argument("--seed", type=int, default=1, help="seed of the delays and reports")
    parser.add_argument("--reports", type=int, default=SOAK_REPORTS, help="kept ready for sync")
    parser.add_argument("--only", choices=["public", "sync", "import"], action="append")
    args = parser.parse_args(argv)
    chosen = targets(args.reports)
    rows = []
    for name in args.only or list(chosen):
        with tempfile.TemporaryDirectory(prefix=f"iblagh-crash-{name}-") as work:
            print(f"--- {name}: {args.kills} kills, seed {args.seed}", flush=True)
            rows.append(chosen[name](Path(work), args.kills, args.seed, _say))
    print()
    print(table(rows))
    failures = [f"{row.target}: {failure}" for row in rows for failure in row.failures]
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


def _say(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
