"""Retention rules as data: days by outcome, overrides and legal holds by category."""

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from crypto.contents import CLOSE_REASONS

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "retention.toml"
HOLD = "hold"
REFERRED = "referred"
OUTCOME_KEYS = frozenset({REFERRED, *(f"closed:{reason}" for reason in CLOSE_REASONS)})


class RetentionRulesError(ValueError):
    """The rules file is not what docs/retention.md describes."""


@dataclass(frozen=True)
class Rule:
    """What applies to one case: kept ``days`` after its clock starts, or held, or kept
    while open (``days`` None and not held)."""

    key: str
    days: int | None
    held_by_default: bool = False


@dataclass(frozen=True)
class RetentionRules:
    outcome_days: Mapping[str, int]
    category_days: Mapping[str, int]
    held_categories: frozenset[str]

    def rule_for(self, status: str, close_reason: str | None, category: str | None) -> Rule:
        """The rule of a case with this status, closing reason and category."""
        held = category in self.held_categories
        if status == "closed":
            key = f"closed:{close_reason}"
        elif status == REFERRED:
            key = REFERRED
        else:
            return Rule("open", None, held)
        if category is not None and category in self.category_days:
            return Rule(f"category:{category}", self.category_days[category], held)
        days = self.outcome_days.get(key)
        return Rule(key if days is not None else "no_rule", days, held)


def parse_rules(document: Mapping[str, object]) -> RetentionRules:
    outcomes = document.get("outcomes", {})
    categories = document.get("categories", {})
    if not isinstance(outcomes, dict) or not isinstance(categories, dict):
        raise RetentionRulesError("[outcomes] and [categories] must be tables")
    outcome_days: dict[str, int] = {}
    for key, days in outcomes.items():
        if key not in OUTCOME_KEYS:
            raise RetentionRulesError(f"unknown outcome {key!r}: use one of {sorted(OUTCOME_KEYS)}")
        outcome_days[key] = _days(key, days)
    category_days: dict[str, int] = {}
    held: set[str] = set()
    for category, value in categories.items():
        if value == HOLD:
            held.add(category)
        else:
            category_days[category] = _days(category, value)
    return RetentionRules(outcome_days, category_days, frozenset(held))


@functools.cache
def load_rules(path: Path = DATA_FILE) -> RetentionRules:
    """Read and check the rules file (cached per path)."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise RetentionRulesError(f"{path}: {exc}") from exc
    return parse_rules(document)


def _days(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RetentionRulesError(f'{key}: a number of days (1 or more), or "hold"')
    return value
