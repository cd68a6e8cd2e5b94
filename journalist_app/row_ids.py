"""Row ids that arrive as text (form fields, query strings), bounded to what a database stores.

``str.isdigit`` also says yes to ``²`` (which ``int`` refuses) and a number may pass 64
bits (which the database driver refuses): either was a 500. ``row_id`` turns both into
"no id", and ``DatabaseInteger`` (journalist_app/__init__.py) does the same for URLs.
"""

# The widest id SQLite's INTEGER and PostgreSQL's BIGINT store.
MAX_ROW_ID = 2**63 - 1
_MAX_DIGITS = len(str(MAX_ROW_ID))


def row_id(text: str) -> int | None:
    """``text`` as a row id, or None: decimal digits only (any script's, as ``int``
    reads them: an Arabic-Indic ``١٤`` is 14), at most ``MAX_ROW_ID``."""
    text = text.strip()
    if not text.isdecimal() or len(text) > _MAX_DIGITS:
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None
