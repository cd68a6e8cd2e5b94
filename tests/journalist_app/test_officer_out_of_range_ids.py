"""A case number beyond what the database stores is a 404, never a 500 (issue 9, finding 10)."""

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/cases/99999999999999999999",
        "/cases/99999999999999999999/reply",
        "/cases/18446744073709551616/identity",
    ],
)
def test_an_out_of_range_case_number_is_not_found_not_a_crash(client, auth, path) -> None:
    auth.login()
    assert client.get(path).status_code == 404
