import dataclasses
import re

from crypto.envelope import EnvelopeMetadata, seal_bytes
from journalist_app import create_app

HOSTILE = {
    "v": 1,
    "category": "incitement",
    "urls": ["javascript:alert(1)", "https://example.org/<b>post</b>?a=1&b=2"],
    "description": '<script>alert("x")</script>\n<img src=x onerror=alert(2)> سلام',
    "language": "ar",
    "added_in_v2": "ignored",
}


def test_a_decrypted_report_shows_hostile_content_as_inert_text(client, auth, mailbox) -> None:
    submission = mailbox.add_report(HOSTILE)
    auth.login()
    auth.sync()

    html = client.get(f"/reports/{submission.id}?lang=en").get_data(as_text=True)

    # The report page is its case's page. The one script is the app's own copy button
    # file; the reporter's is text.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/copy.js" defer>']
    assert "<img" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html and "سلام" in html
    assert "javascript:alert(1)" in html
    assert 'value="https://example.org/' in html and "<b>" not in html
    # Shown as text: the only links are the page's own.
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert all(h.startswith(("/", "?")) for h in hrefs), hrefs
    # Codes are translated: the category's label, never its id.
    assert "Incitement to violence" in html and ">incitement<" not in html


def test_the_identity_stays_hidden(client, auth, mailbox, sealed_report, unit) -> None:
    identity = seal_bytes(
        b'{"v": 1, "full_name": "Nadia Benali"}',
        unit.recipient_set.public_keys(),
        EnvelopeMetadata(kind="identity", content_type="application/json"),
    )
    with_identity = mailbox.add({"body": sealed_report(HOSTILE), "identity": identity})
    anonymous = mailbox.add_report(HOSTILE)
    auth.login()
    auth.sync()

    shown = client.get(f"/reports/{with_identity.id}?lang=en").get_data(as_text=True)
    assert "Nadia" not in shown and "Benali" not in shown
    assert "The reporter gave their identity. It stays hidden" in shown
    other = client.get(f"/reports/{anonymous.id}?lang=en").get_data(as_text=True)
    assert "chose to stay anonymous" in other


def test_officers_land_on_the_queue_after_a_sync(client, auth, mailbox) -> None:
    mailbox.add_report(HOSTILE, received_hour="2026-11-27T09:00:00Z")
    mailbox.add_report(HOSTILE, received_hour="2026-11-28T18:00:00Z")
    client.get("/login?lang=en")
    auth.login()
    response = auth.sync()
    assert response.status_code == 302 and response.headers["Location"].endswith("/cases")

    html = client.get("/").get_data(as_text=True)

    assert "Sync done: 2 new, 0 already stored, 2 acknowledged" in html
    # The landing page is the triage queue (paged by key), not a list of every report.
    # Both name the same addresses: one case of two reports.
    assert re.findall(r'href="/cases/\d+"', html) == ['href="/cases/1"']
    assert "/reports/" not in html


def test_sync_reports_an_unreachable_public_host_in_the_page(
    synced_config, auth_for, unused_url
) -> None:
    client = create_app(dataclasses.replace(synced_config, sync_url=unused_url)).test_client()
    auth = auth_for(client)
    client.get("/login?lang=en")
    auth.login()
    assert auth.sync().status_code == 302
    html = client.get("/").get_data(as_text=True)
    assert "The public host could not be reached" in html


def test_a_report_that_does_not_decrypt_says_so_and_stays(client, auth, mailbox) -> None:
    submission = mailbox.add({"body": b"not an envelope at all"})
    auth.login()
    auth.sync()
    response = client.get(f"/reports/{submission.id}?lang=en")
    assert response.status_code == 422
    assert "cannot be read with the keys you hold" in response.get_data(as_text=True)


def test_unknown_or_malformed_report_ids_are_not_found(client, auth) -> None:
    auth.login()
    assert client.get("/reports/" + "a" * 32).status_code == 404
    assert client.get("/reports/..%2F..%2Fofficer.sqlite3").status_code == 404
