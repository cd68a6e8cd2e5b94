"""``/reports/<id>`` shows reporters' text inert: direction controls are shown as markers,
never obeyed, in every field, as on the case page (issue 9, finding 10)."""

import re

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
TRICK = "photo\u202egpj.exe \u2067isolate\u2069 \u202bembed\u202c \u202dover\u202c \u2066x\u2069"


def test_the_report_page_shows_direction_controls_as_markers_in_every_field(
    client, auth, mailbox
) -> None:
    body = {
        "v": 1,
        "category": "fraud",
        "urls": ["https://bank.example/\u202emoc.lapyap", "hxxps://x[.]example/" + TRICK],
        "description": TRICK,
        "language": "ar",
        "platform": TRICK,
        "account": TRICK,
        "seen_on": "2026-11-28\u202e",
    }
    report = mailbox.add_report(body)
    follow_up = mailbox.add_report({**body, "description": "again " + TRICK}, kind="followup")
    auth.login()
    auth.sync()

    for submission in (report, follow_up):
        response = client.get(f"/reports/{submission.id}?lang=en")
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert BIDI.findall(html) == [], [
            html[max(0, m.start() - 80) : m.end() + 20] for m in BIDI.finditer(html)
        ]
        assert "[U+202E RLO]" in html and "[U+2067 RLI]" in html and "[U+202D LRO]" in html
