"""The officer database: one module per area, all on one declarative base."""

from journalist_app.models.audit import AuditEntry
from journalist_app.models.base import Base
from journalist_app.models.batch import BatchRecord, OutboxItem, UploadReceipt
from journalist_app.models.binding import ReportBinding
from journalist_app.models.case import Case, CaseEvent, IdentityReveal
from journalist_app.models.diagnostics import (
    AttachmentHashes,
    AttachmentPdq,
    HashList,
    HashListEntry,
    HashMatch,
)
from journalist_app.models.notice import EndedNotice
from journalist_app.models.officer import KeyGrant, Officer
from journalist_app.models.referral import Referral, ReferralDirectory, ReferralUnitKey
from journalist_app.models.refused import RefusedSubmission
from journalist_app.models.reply import Reply
from journalist_app.models.report import Report, ReportBlob
from journalist_app.models.search import MutedReporter, SearchToken
from journalist_app.models.stats import StatsDaily
from journalist_app.models.thread import CaseNote, ReplyCopy
from journalist_app.models.triage import ReportAttachment, ReportTriage, ReportUrl
from journalist_app.models.unit_key import RecipientSetRecord, UnitKey

__all__ = [
    "AttachmentHashes",
    "AttachmentPdq",
    "AuditEntry",
    "Base",
    "BatchRecord",
    "Case",
    "CaseEvent",
    "CaseNote",
    "EndedNotice",
    "HashList",
    "HashListEntry",
    "HashMatch",
    "IdentityReveal",
    "KeyGrant",
    "MutedReporter",
    "Officer",
    "OutboxItem",
    "RecipientSetRecord",
    "Referral",
    "ReferralDirectory",
    "ReferralUnitKey",
    "RefusedSubmission",
    "Reply",
    "ReplyCopy",
    "Report",
    "ReportAttachment",
    "ReportBinding",
    "ReportBlob",
    "ReportTriage",
    "ReportUrl",
    "SearchToken",
    "StatsDaily",
    "UnitKey",
    "UploadReceipt",
]
