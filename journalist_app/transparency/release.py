"""A quarter's figures, noised once with OpenDP and kept, so the report can be re-rendered
without drawing new noise (each new draw would leak more: averaging removes noise).

Each case counts once in the category histogram and once in the outcome histogram (the
case's category and status at release time; cases received in the quarter). Adding or
removing one case moves one cell of each by one: an L1 sensitivity of 1 per histogram.
Each histogram gets discrete Laplace noise of scale 2/ε, so each costs ε/2 and the
release costs ε in all; totals, referrals and shares are computed from the noisy cells
(post-processing costs nothing). A noisy count under the threshold is shown as "fewer
than N", never as a number.
"""

import json
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from pathlib import Path

import opendp.prelude as dp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto.contents import CLOSE_REASONS
from journalist_app.clock import utc_now
from journalist_app.errors import OfficerError
from journalist_app.models import Case
from journalist_app.triage import statuses
from journalist_app.triage.categories import active_categories

DEFAULT_EPSILON = 1.0
DEFAULT_THRESHOLD = 10
RELEASES_DIR = "transparency"
NOT_READ = "not_read"
OUTCOMES = (
    statuses.NEW,
    statuses.TRIAGED,
    statuses.UNDER_INVESTIGATION,
    statuses.REFERRED,
    *(f"closed:{reason}" for reason in CLOSE_REASONS),
)
REFERRED_OUTCOMES = (statuses.REFERRED, "closed:referred")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")


class QuarterError(OfficerError):
    """Not a quarter such as 2026-Q4."""


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        match = _QUARTER.fullmatch(text.strip())
        # Year 0 has no first day, and 9999-Q4 no day after its last: both were a 500.
        if match is None or not 1 <= int(match.group(1)) <= 9998:
            raise QuarterError(f"{text!r} is not a quarter such as 2026-Q4")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def start(self) -> datetime:
        return datetime.combine(date(self.year, 3 * self.number - 2, 1), time.min)

    @property
    def end(self) -> datetime:
        """The first instant after the quarter."""
        if self.number == 4:
            return datetime.combine(date(self.year + 1, 1, 1), time.min)
        return datetime.combine(date(self.year, 3 * self.number + 1, 1), time.min)


@dataclass(frozen=True)
class Release:
    """Noisy counts of one quarter, as published (before suppression is applied)."""

    quarter: str
    epsilon: float
    threshold: int
    released_at: str
    categories: dict[str, int]
    outcomes: dict[str, int]

    def shown(self, count: int) -> int | None:
        """The count as the report may print it; None: suppressed (under the threshold)."""
        return count if count >= self.threshold else None

    @property
    def total(self) -> int:
        return sum(max(0, n) for n in self.categories.values())

    @property
    def referred(self) -> int:
        return sum(max(0, self.outcomes.get(k, 0)) for k in REFERRED_OUTCOMES)

    def share(self, count: int) -> float | None:
        if self.shown(count) is None or self.total <= 0:
            return None
        return round(100 * count / self.total, 1)


def true_counts(session: Session, quarter: Quarter) -> tuple[dict[str, int], dict[str, int]]:
    """Exact counts by category and outcome of the cases received in ``quarter`` (not published)."""
    in_quarter = (
        Case.received >= quarter.start,
        Case.received < quarter.end,
        Case.status != statuses.MERGED,
    )
    categories = {c.id: 0 for c in active_categories()} | {NOT_READ: 0}
    for category, count in session.execute(
        select(Case.category, func.count()).where(*in_quarter).group_by(Case.category)
    ):
        key = category if category in categories else NOT_READ
        categories[key] += count
    outcomes = dict.fromkeys(OUTCOMES, 0)
    for status, reason, count in session.execute(
        select(Case.status, Case.close_reason, func.count())
        .where(*in_quarter)
        .group_by(Case.status, Case.close_reason)
    ):
        key = f"closed:{reason}" if status == statuses.CLOSED else status
        if key in outcomes:
            outcomes[key] += count
    return categories, outcomes


def noisy(counts: dict[str, int], epsilon: float) -> dict[str, int]:
    """Discrete Laplace noise on a histogram of L1 sensitivity 1, costing ``epsilon``."""
    dp.enable_features("contrib")
    measurement = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=1.0 / epsilon
    )
    assert measurement.map(1) <= epsilon + 1e-9  # type: ignore[no-untyped-call]
    keys = list(counts)
    return dict(zip(keys, measurement([counts[k] for k in keys]), strict=True))


def release(
    session: Session,
    data_dir: Path,
    quarter: Quarter,
    *,
    epsilon: float = DEFAULT_EPSILON,
    threshold: int = DEFAULT_THRESHOLD,
) -> tuple[Release, bool]:
    """The quarter's release: the stored one, or a new one drawn and stored now.

    Returns (release, made now).
    """
    path = release_path(data_dir, quarter)
    if path.exists():
        return Release(**json.loads(path.read_text(encoding="utf-8"))), False
    categories, outcomes = true_counts(session, quarter)
    made = Release(
        quarter=str(quarter),
        epsilon=epsilon,
        threshold=threshold,
        released_at=utc_now().isoformat(timespec="seconds"),
        # Half the budget to each histogram.
        categories=noisy(categories, epsilon / 2),
        outcomes=noisy(outcomes, epsilon / 2),
    )
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(json.dumps(asdict(made), indent=1), encoding="utf-8")
    return made, True


def stored_release(data_dir: Path, quarter: Quarter) -> Release | None:
    path = release_path(data_dir, quarter)
    if not path.exists():
        return None
    return Release(**json.loads(path.read_text(encoding="utf-8")))


def release_path(data_dir: Path, quarter: Quarter) -> Path:
    return data_dir / RELEASES_DIR / f"{quarter}.json"
