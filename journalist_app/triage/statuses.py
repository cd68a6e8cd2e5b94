"""The case workflow: statuses, allowed moves, closing reasons, and what the reporter is told.

    new ──► triaged ──► under_investigation ──► referred ──► closed
     │         │  └────────────► referred          ▲           │
     └─────────┴──────────────► closed ◄───────────┘           │
                   triaged ◄──── (reopen) ◄────────────────────┘

The reporter sees the statuses of docs/sync-api.md: nothing new while the case is
``new`` (their page already says "received"), ``under_review`` once it is triaged or
investigated, ``referred``, and ``closed`` with its reason.
"""

from typing import Final

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from crypto.contents import CLOSE_REASONS

NEW: Final = "new"
TRIAGED: Final = "triaged"
UNDER_INVESTIGATION: Final = "under_investigation"
REFERRED: Final = "referred"
CLOSED: Final = "closed"
# Not a workflow step: a case folded into another by a merge keeps its history only.
MERGED: Final = "merged"

STATUSES: Final = (NEW, TRIAGED, UNDER_INVESTIGATION, REFERRED, CLOSED)
OPEN_STATUSES: Final = frozenset({NEW, TRIAGED, UNDER_INVESTIGATION})

TRANSITIONS: dict[str, tuple[str, ...]] = {
    NEW: (TRIAGED, CLOSED),
    TRIAGED: (UNDER_INVESTIGATION, REFERRED, CLOSED),
    UNDER_INVESTIGATION: (REFERRED, CLOSED),
    REFERRED: (CLOSED,),
    CLOSED: (TRIAGED,),
    MERGED: (),
}

STATUS_LABELS: dict[str, LazyString] = {
    NEW: _l("New"),
    TRIAGED: _l("Triaged"),
    UNDER_INVESTIGATION: _l("Under investigation"),
    REFERRED: _l("Referred"),
    CLOSED: _l("Closed"),
    MERGED: _l("Merged into another case"),
}

CLOSE_REASON_LABELS: dict[str, LazyString] = {
    "not_illegal": _l("Not illegal"),
    "duplicate": _l("Duplicate"),
    "insufficient_information": _l("Insufficient information"),
    "referred": _l("Referred"),
    "handled": _l("Handled"),
}
assert tuple(CLOSE_REASON_LABELS) == CLOSE_REASONS, "crypto/contents.py is the wire format"

# What the reporter's page says, named for the officer (the case history shows it).
REPORTER_STATUS_LABELS: dict[str, LazyString] = {
    "received": _l("received"),
    "under_review": _l("under review"),
    "referred": _l("referred"),
    "closed": _l("closed"),
}

_REPORTER_STATUS = {
    TRIAGED: "under_review",
    UNDER_INVESTIGATION: "under_review",
    REFERRED: "referred",
    CLOSED: "closed",
}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, ())


def reporter_view(status: str, reason: str | None) -> tuple[str, str | None] | None:
    """(status, reason) as the reporter's page shows it, or None: nothing to tell yet."""
    shown = _REPORTER_STATUS.get(status)
    if shown is None:
        return None
    return shown, (reason if status == CLOSED else None)
