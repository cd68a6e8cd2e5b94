"""The public host serves the transparency reports the unit published, and nothing else."""

from pathlib import Path


def test_a_published_report_is_served_as_is(client, source_data_dir: Path) -> None:
    folder = source_data_dir / "transparency"
    folder.mkdir()
    (folder / "2026-Q4.ar.html").write_text('<html dir="rtl"><p>تقرير</p></html>', "utf-8")

    answer = client.get("/transparency/2026-Q4.ar.html")

    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "تقرير" in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers
    assert client.get("/transparency/2026-Q3.ar.html").status_code == 404
    for name in ("recipient-set.json", "..%2Funit-verify-key", "2026-Q4.ar.htm"):
        assert client.get(f"/transparency/{name}").status_code == 404
