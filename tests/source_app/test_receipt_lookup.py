"""What the public host keeps to find a reporter: the hash of the lookup value (v2).

docs/receipt.md: the host stores SHA-256("iblagh-lookup/2" || lookup value) and the
reporter's public key; the lookup value (what a browser will send instead of the code)
is in no row, so a stolen database holds nothing that can stand in for the code.
"""

import pytest
from flask import Flask
from sqlalchemy import select

from crypto.receipt import ReceiptCode, derive_reporter_secrets, lookup_hash
from source_app.host import EXTENSION_KEY, PublicHost
from source_app.models import Reporter
from source_app.services.status import UnknownCode, find_reporter, find_reporter_by_lookup_value
from tests.conftest import ReporterActions


def _stored_reporters(app: Flask) -> list[Reporter]:
    host: PublicHost = app.extensions[EXTENSION_KEY]
    with host.sessions() as session:
        return list(session.scalars(select(Reporter)))


def test_a_report_stores_the_hash_of_the_lookup_value_and_the_public_key(
    source_app: Flask, reporter: ReporterActions
) -> None:
    code = reporter.report()
    secrets = derive_reporter_secrets(ReceiptCode.parse(code))
    (stored,) = _stored_reporters(source_app)
    assert stored.lookup_hash == lookup_hash(secrets.lookup_value)
    assert stored.lookup_hash != secrets.lookup_value
    assert stored.public_key == bytes(secrets.public_key)


def test_the_typed_code_and_the_lookup_value_find_the_same_reporter(
    source_app: Flask, reporter: ReporterActions
) -> None:
    code = ReceiptCode.parse(reporter.report())
    host: PublicHost = source_app.extensions[EXTENSION_KEY]
    with host.sessions() as session:
        by_code, secrets = find_reporter(session, code)
        by_value = find_reporter_by_lookup_value(session, secrets.lookup_value)
        assert by_code.id == by_value.id


def test_the_stored_hash_presented_as_a_lookup_value_finds_nobody(
    source_app: Flask, reporter: ReporterActions
) -> None:
    """Issue 10, item 3: a database thief cannot act as the reporter with what they stole."""
    reporter.report()
    (stored,) = _stored_reporters(source_app)
    host: PublicHost = source_app.extensions[EXTENSION_KEY]
    with host.sessions() as session:
        with pytest.raises(UnknownCode):
            find_reporter_by_lookup_value(session, stored.lookup_hash)
        for malformed in (b"", bytes(31), bytes(33)):
            with pytest.raises(UnknownCode):
                find_reporter_by_lookup_value(session, malformed)


def test_a_code_typed_in_arabic_indic_digits_opens_the_status_page(
    reporter: ReporterActions,
) -> None:
    code = reporter.report()
    arabic = "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in code)
    status, page = reporter.status(arabic)
    assert status == 200
    assert "Received" in page
