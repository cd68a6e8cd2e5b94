"""What one crash run counted, and the table ``python -m tests.crash.run`` prints."""

from dataclasses import dataclass, field


@dataclass
class Figures:
    """Counts of one target's run. ``failures`` lists every breach, for the assertion."""

    target: str
    seed: int
    kills: int = 0
    # Runs of the killed program that ended by themselves before their kill came.
    finished_runs: int = 0
    # Reports whose reporter was shown a code (public host) or that the public host
    # acknowledged by an answer (officer side: every report put there).
    shown: int = 0
    # Committed without a code shown: the answer was lost with the host (409 on a retry).
    committed_unshown: int = 0
    lost: int = 0
    half: int = 0
    duplicates: int = 0
    decrypt_failures: int = 0
    # What recovery removed after the kills: unreferenced blobs, unfinished writes.
    leftovers_removed: int = 0
    # Stray files found after recovery (must be 0).
    strays: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)


COLUMNS = (
    ("target", "{}"),
    ("seed", "{}"),
    ("kills", "{}"),
    ("finished", "{}"),
    ("shown", "{}"),
    ("unshown", "{}"),
    ("lost", "{}"),
    ("half", "{}"),
    ("dup", "{}"),
    ("undecryptable", "{}"),
    ("recovered", "{}"),
    ("strays", "{}"),
    ("seconds", "{:.0f}"),
)


def _cells(figures: Figures) -> list[str]:
    values = (
        figures.target,
        figures.seed,
        figures.kills,
        figures.finished_runs,
        figures.shown,
        figures.committed_unshown,
        figures.lost,
        figures.half,
        figures.duplicates,
        figures.decrypt_failures,
        figures.leftovers_removed,
        figures.strays,
        figures.seconds,
    )
    return [fmt.format(value) for (_name, fmt), value in zip(COLUMNS, values, strict=True)]


def table(rows: list[Figures]) -> str:
    lines = [[name for name, _ in COLUMNS]] + [_cells(row) for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in lines
    )
