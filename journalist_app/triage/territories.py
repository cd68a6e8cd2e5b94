"""Territories a case is given (Morocco: 12 regions, 75 prefectures and provinces).

The table is data (journalist_app/data/territories.csv, sources in its README); a case
stores the unit's census code (``hcp_unit_code``, e.g. ``01.511``). Names are shown in
Arabic to an Arabic-speaking officer and in their official French form otherwise.
"""

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "territories.csv"
REGION_PREFIX = "region:"


@dataclass(frozen=True)
class Territory:
    """A prefecture or province, within its region."""

    code: str
    unit_type: str
    name_fr: str
    name_ar: str
    region_code: str
    region_fr: str
    region_ar: str

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr

    def region_name(self, language: str) -> str:
        return self.region_ar if language == "ar" else self.region_fr


@dataclass(frozen=True)
class Region:
    code: str
    name_fr: str
    name_ar: str
    units: tuple[Territory, ...]

    def name(self, language: str) -> str:
        return self.name_ar if language == "ar" else self.name_fr


@functools.cache
def territories(path: Path = DATA_FILE) -> dict[str, Territory]:
    """Every unit by code, in the file's order (region by region)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = {
        row["hcp_unit_code"]: Territory(
            code=row["hcp_unit_code"],
            unit_type=row["unit_type"],
            name_fr=row["unit_name_fr"],
            name_ar=row["unit_name_ar"],
            region_code=row["region_code"],
            region_fr=row["region_name_fr"],
            region_ar=row["region_name_ar"],
        )
        for row in rows
    }
    if len(table) != len(rows):
        raise ValueError(f"{path}: a territory code appears twice")
    return table


def regions(path: Path = DATA_FILE) -> list[Region]:
    grouped: dict[str, list[Territory]] = {}
    for territory in territories(path).values():
        grouped.setdefault(territory.region_code, []).append(territory)
    return [
        Region(
            code=code, name_fr=units[0].region_fr, name_ar=units[0].region_ar, units=tuple(units)
        )
        for code, units in grouped.items()
    ]
