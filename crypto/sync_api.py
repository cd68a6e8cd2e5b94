"""The sync API contract (docs/sync-api.md): the facts both hosts must agree on.

The public host serves the listing and the officer host reads it; both take the paths,
the id and blob-name grammar, the listing's schema and the protocol ceilings from here,
so neither keeps a copy that can drift from the other's. The builder writes what the
public host holds, as it holds it; the parser is the officer host's strict reading of
an untrusted answer. An item that breaks the contract is refused on its own, with a
reason, so that the rest of the listing still arrives: one bad submission never stops
the ones behind it.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeGuard

from crypto.encoding import b64decode, b64encode
from crypto.errors import CryptoError, SyncListingError

# --- paths -----------------------------------------------------------------------------

API_PREFIX: Final = "/sync/v1"
SUBMISSIONS_PATH: Final = f"{API_PREFIX}/submissions"
ACK_PATH: Final = f"{API_PREFIX}/ack"
RECIPIENT_SET_PATH: Final = f"{API_PREFIX}/recipient-set"
# Signed checkpoints of the officer host's audit chain (crypto/audit_anchor.py), kept
# write-once: POST one, GET the latest.
AUDIT_ANCHORS_PATH: Final = f"{API_PREFIX}/audit-anchors"
AUDIT_ANCHOR_LATEST_PATH: Final = f"{API_PREFIX}/audit-anchors/latest"
# The unit's published transparency pages (docs/retention.md): PUT one file by its name.
TRANSPARENCY_PATH: Final = f"{API_PREFIX}/transparency"

# --- protocol ceilings -------------------------------------------------------------------

# The most attachments one submission may carry. The public host's own setting
# (IBLAGH_MAX_ATTACHMENTS, 10 by default) may be lower, never higher: the officer host
# refuses a submission above this, whatever the public host was told.
MAX_ATTACHMENTS: Final = 100
# body, identity and the attachments.
MAX_BLOBS_PER_SUBMISSION: Final = 2 + MAX_ATTACHMENTS
DEFAULT_LIST_LIMIT: Final = 100
MAX_LIST: Final = 500
MAX_ACK_IDS: Final = 500
MAX_REPLY_BYTES: Final = 1024 * 1024
# The largest JSON answer a reader accepts: a full listing of the largest submissions
# (MAX_LIST items of MAX_BLOBS_PER_SUBMISSION blobs) fits with room to spare.
MAX_JSON_BYTES: Final = 8 * 1024 * 1024
# A blob size is stored as a signed 64-bit integer on both hosts.
MAX_BLOB_SIZE: Final = 2**63 - 1
# One published transparency page, HTML or PDF (a quarter's PDF is some 15 KiB); below
# the sync listener's own request ceiling (IBLAGH_MAX_SYNC_REQUEST_BYTES, 2 MiB).
MAX_TRANSPARENCY_PAGE_BYTES: Final = 1024 * 1024

# --- grammar -----------------------------------------------------------------------------

KINDS: Final = ("report", "followup")
# Submission, reporter and reply ids: 16 random bytes in lowercase hex.
ID: Final = re.compile(r"[0-9a-f]{32}")
# body, identity, attachment-1 … attachment-<MAX_ATTACHMENTS> (no leading zero).
BLOB_NAME: Final = re.compile(r"body|identity|attachment-([1-9][0-9]{0,2})")
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
# The reception hour, UTC, to the hour: the public host keeps no finer trace.
RECEIVED_HOUR: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:00:00Z")
_HOUR_FORMAT: Final = "%Y-%m-%dT%H:00:00Z"
# A published transparency page: quarter, language, format (``2026-Q3.ar.html``).
TRANSPARENCY_NAME: Final = re.compile(r"[0-9]{4}-Q[1-4]\.(ar|fr|en|es)\.(html|pdf)")


def is_id(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a submission, reporter or reply id (32 lowercase hex digits)."""
    return isinstance(value, str) and ID.fullmatch(value) is not None


def is_blob_name(value: object) -> bool:
    """Whether ``value`` names a blob: ``body``, ``identity`` or ``attachment-1`` … ``-100``."""
    if not isinstance(value, str):
        return False
    match = BLOB_NAME.fullmatch(value)
    return match is not None and (match.group(1) is None or int(match.group(1)) <= MAX_ATTACHMENTS)


def submissions_path(limit: int = DEFAULT_LIST_LIMIT, after: str | None = None) -> str:
    """The listing's path and query: ``limit`` items, those listed after ``after`` if given."""
    if not 1 <= limit <= MAX_LIST:
        raise ValueError(f"the limit is 1 to {MAX_LIST}")
    if after is None:
        return f"{SUBMISSIONS_PATH}?limit={limit}"
    return f"{SUBMISSIONS_PATH}?limit={limit}&after={_checked_id(after)}"


def blob_path(submission_id: str, name: str) -> str:
    """The path of one blob's ciphertext; ValueError for an id or name off the grammar."""
    if not is_blob_name(name):
        raise ValueError("not a blob name")
    return f"{SUBMISSIONS_PATH}/{_checked_id(submission_id)}/blobs/{name}"


def reply_path(reporter_id: str, reply_id: str) -> str:
    """Where a reply is posted; the reply id sits in the path so the signature covers it."""
    return f"{API_PREFIX}/reporters/{_checked_id(reporter_id)}/replies/{_checked_id(reply_id)}"


def is_transparency_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` names a published transparency page, ``2026-Q3.ar.html`` or
    ``2026-Q3.ar.pdf`` (ar, fr, en or es): the only names the public host writes or serves."""
    return isinstance(value, str) and TRANSPARENCY_NAME.fullmatch(value) is not None


def transparency_path(name: str) -> str:
    """Where one published page is put; ValueError for a name off the grammar."""
    if not is_transparency_name(name):
        raise ValueError("not a transparency page name such as 2026-Q3.ar.html")
    return f"{TRANSPARENCY_PATH}/{name}"


def _checked_id(value: str) -> str:
    if not is_id(value):
        raise ValueError("not a 32-hex-digit id")
    return value


# --- the listing -------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedBlob:
    """One blob of a listed submission: its name and its ciphertext's size and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ListedSubmission:
    """One item of ``GET /sync/v1/submissions``.

    ``received_hour`` is naive UTC, as both hosts store it.
    """

    id: str
    kind: str
    reporter_id: str
    reporter_public_key: bytes
    received_hour: datetime
    blobs: tuple[ListedBlob, ...]

    @property
    def attachment_count(self) -> int:
        """How many of the blobs are attachments."""
        return sum(blob.name.startswith("attachment-") for blob in self.blobs)


@dataclass(frozen=True)
class RefusedItem:
    """A listing item the parser refused; ``submission_id`` when it had a well-formed one."""

    submission_id: str | None
    reason: str
    detail: str


@dataclass(frozen=True)
class Listing:
    """A parsed listing: every item, accepted or refused, in the order the host listed them."""

    entries: tuple[ListedSubmission | RefusedItem, ...]

    @property
    def submissions(self) -> tuple[ListedSubmission, ...]:
        """The accepted items."""
        return tuple(e for e in self.entries if isinstance(e, ListedSubmission))

    @property
    def refused(self) -> tuple[RefusedItem, ...]:
        """The refused items, each with its reason."""
        return tuple(e for e in self.entries if isinstance(e, RefusedItem))


def format_hour(moment: datetime) -> str:
    """A naive UTC hour as the listing writes it (``2026-11-28T18:00:00Z``)."""
    return moment.strftime(_HOUR_FORMAT)


def listing_item(submission: ListedSubmission) -> dict[str, Any]:
    """One submission as the listing's JSON object.

    Not validated: the public host lists what it holds, as it holds it, and the officer
    host refuses what breaks the contract; refusing here would hide every other item.
    """
    return {
        "id": submission.id,
        "kind": submission.kind,
        "reporter_id": submission.reporter_id,
        "reporter_public_key": b64encode(submission.reporter_public_key),
        "received_hour": format_hour(submission.received_hour),
        "blobs": [
            {"name": blob.name, "size": blob.size, "sha256": blob.sha256}
            for blob in submission.blobs
        ],
    }


def build_listing(submissions: Iterable[ListedSubmission]) -> dict[str, Any]:
    """The JSON document of ``GET /sync/v1/submissions``."""
    return {"submissions": [listing_item(submission) for submission in submissions]}


def parse_listing(document: object, limit: int = MAX_LIST) -> Listing:
    """Read a listing from untrusted JSON; items that break the contract come back refused.

    :class:`SyncListingError` for a document that is not a listing at all, or that holds
    more than ``limit`` items; an item that breaks the contract, or repeats an earlier id,
    is a :class:`RefusedItem` and the others are still read.
    """
    items = document.get("submissions") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise SyncListingError("not_a_listing", "the listing has no 'submissions' list")
    if len(items) > min(limit, MAX_LIST):
        raise SyncListingError(
            "too_many_items", f"the listing holds more than the {min(limit, MAX_LIST)} asked for"
        )
    entries: list[ListedSubmission | RefusedItem] = []
    seen: set[str] = set()
    for item in items:
        try:
            submission = parse_submission(item)
            if submission.id in seen:
                raise SyncListingError(
                    "duplicate_id", f"submission {submission.id} is listed twice", submission.id
                )
        except SyncListingError as exc:
            entries.append(RefusedItem(exc.submission_id, exc.reason, str(exc)))
            continue
        seen.add(submission.id)
        entries.append(submission)
    return Listing(tuple(entries))


def parse_submission(item: object) -> ListedSubmission:
    """Read one listing item from untrusted JSON; :class:`SyncListingError` if it breaks
    the contract (also the reader of the items carried in inbound batches, docs/batch.md).

    Fields this version does not know are ignored, so a newer public host may add some.
    """
    if not isinstance(item, dict):
        raise SyncListingError("not_an_object", "a listed submission is not a JSON object")
    raw_id = item.get("id")
    if not is_id(raw_id):
        raise SyncListingError("bad_id", "a listed submission has no 32-hex-digit id")
    submission_id = raw_id

    def refuse(reason: str, what: str) -> SyncListingError:
        return SyncListingError(reason, f"listed submission {submission_id}: {what}", submission_id)

    missing = [name for name in _SUBMISSION_FIELDS if name not in item]
    if missing:
        raise refuse("missing_field", f"no {missing[0]!r}")
    kind = item["kind"]
    if kind not in KINDS:
        raise refuse("bad_kind", "unknown kind")
    reporter_id = item["reporter_id"]
    if not is_id(reporter_id):
        raise refuse("bad_reporter_id", "the reporter id is not 32 hex digits")
    try:
        reporter_public_key = b64decode(item["reporter_public_key"], length=32)
    except CryptoError:
        raise refuse("bad_reporter_key", "the reporter key is not base64 of 32 bytes") from None
    received_hour = _parse_hour(item["received_hour"])
    if received_hour is None:
        raise refuse("bad_received_hour", "received_hour is not an hour like 2026-11-28T18:00:00Z")
    raw_blobs = item["blobs"]
    if not isinstance(raw_blobs, list):
        raise refuse("bad_blobs", "'blobs' is not a list")
    if len(raw_blobs) > MAX_BLOBS_PER_SUBMISSION:
        raise refuse(
            "too_many_blobs",
            f"{len(raw_blobs)} blobs, more than the {MAX_BLOBS_PER_SUBMISSION} a submission can "
            f"have (body, identity and at most {MAX_ATTACHMENTS} attachments)",
        )
    blobs = tuple(_parse_blob(blob, refuse) for blob in raw_blobs)
    names = [blob.name for blob in blobs]
    if len(set(names)) != len(names):
        raise refuse("duplicate_blob", "a blob name is listed twice")
    if "body" not in names:
        raise refuse("no_body", "no 'body' blob")
    return ListedSubmission(
        id=submission_id,
        kind=str(kind),
        reporter_id=reporter_id,
        reporter_public_key=reporter_public_key,
        received_hour=received_hour,
        blobs=blobs,
    )


_SUBMISSION_FIELDS: Final = (
    "kind",
    "reporter_id",
    "reporter_public_key",
    "received_hour",
    "blobs",
)


def _parse_blob(item: object, refuse: Callable[[str, str], SyncListingError]) -> ListedBlob:
    if not isinstance(item, dict) or not {"name", "size", "sha256"} <= set(item):
        raise refuse("bad_blob", "a blob is not an object with name, size and sha256")
    name, size, sha256 = item["name"], item["size"], item["sha256"]
    if not isinstance(name, str) or not BLOB_NAME.fullmatch(name):
        raise refuse("bad_blob_name", "a blob has an unknown name")
    if not is_blob_name(name):
        raise refuse(
            "too_many_attachments",
            f"{name} is beyond the protocol's {MAX_ATTACHMENTS} attachments",
        )
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_BLOB_SIZE:
        raise refuse("bad_blob_size", f"blob {name} has an invalid size")
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        raise refuse("bad_blob_sha256", f"blob {name} has an invalid sha256")
    return ListedBlob(name=name, size=size, sha256=sha256)


def _parse_hour(value: object) -> datetime | None:
    if not isinstance(value, str) or not RECEIVED_HOUR.fullmatch(value):
        return None
    try:
        return datetime.strptime(value, _HOUR_FORMAT)
    except ValueError:
        return None


# --- acknowledgements --------------------------------------------------------------------


def ack_request(ids: Sequence[str]) -> dict[str, Any]:
    """The body of ``POST /sync/v1/ack``; ValueError for a bad id or too many."""
    if len(ids) > MAX_ACK_IDS:
        raise ValueError(f"at most {MAX_ACK_IDS} ids per acknowledgement")
    return {"ids": [_checked_id(i) for i in ids]}


def parse_id_list(value: object, limit: int = MAX_ACK_IDS) -> list[str]:
    """A list of ids from untrusted JSON (an acknowledgement or its answer).

    :class:`SyncListingError` (reason ``bad_ids``) unless it is a list of at most
    ``limit`` well-formed ids.
    """
    if not isinstance(value, list) or len(value) > limit or not all(is_id(v) for v in value):
        raise SyncListingError("bad_ids", f"not a list of at most {limit} ids")
    return [str(v) for v in value]
