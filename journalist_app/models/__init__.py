"""The officer database: one module per area, all on one declarative base."""

from journalist_app.models.base import Base
from journalist_app.models.officer import KeyGrant, Officer
from journalist_app.models.reply import Reply
from journalist_app.models.report import Report, ReportBlob
from journalist_app.models.unit_key import RecipientSetRecord, UnitKey

__all__ = [
    "Base",
    "KeyGrant",
    "Officer",
    "RecipientSetRecord",
    "Reply",
    "Report",
    "ReportBlob",
    "UnitKey",
]
