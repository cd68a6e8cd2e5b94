"""The public host serves a published report's PDF beside its page (issue 14, item 3)."""

from pathlib import Path


def test_the_pdf_of_a_published_report_is_served_as_a_pdf(client, source_data_dir: Path) -> None:
    folder = source_data_dir / "transparency"
    folder.mkdir()
    (folder / "2026-Q4.fr.pdf").write_bytes(b"%PDF-1.7 rapport")

    answer = client.get("/transparency/2026-Q4.fr.pdf")

    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data == b"%PDF-1.7 rapport"
    assert "Set-Cookie" not in answer.headers
    assert client.get("/transparency/2026-Q4.ar.pdf").status_code == 404
    for name in ("2026-Q4.fr.pdf.html", "2026-Q4.fr.PDF", "2026-Q4.de.pdf"):
        assert client.get(f"/transparency/{name}").status_code == 404
