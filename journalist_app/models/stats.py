"""The dashboard's daily summary: counts per day, kept with the cases they count.

One row is (scope, scope key, figure, day, key) -> count: e.g. ("category", "fraud",
"outcome", 2026-12-01, "referred") -> 4. A year of the dashboard then reads a few
thousand rows instead of every case. journalist_app/stats/summary.py keeps it in the
transaction of each change and can rebuild it from the cases (docs/retention.md, "The dashboard").
"""

from datetime import date

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from journalist_app.models.base import Base


class StatsDaily(Base):
    """A count of one figure's key on one day, within one scope (all, a category, a
    territory or a region)."""

    __tablename__ = "stats_daily"

    # "all", "category", "territory" or "region": the dashboard's filter it serves.
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The category, territory or region code ("" for "all").
    scope_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    # cases, reports, category, territory, outcome, deadline, hash, open.
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    # UTC day of the case's (or the report's) reception hour.
    day: Mapped[date] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
