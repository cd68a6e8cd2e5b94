"""``make run``'s demo cases: a supervisor sees the dashboard with figures, in Arabic and French.

demo-init (the demo's own data dir only; it refuses one with real keys, see
test_officer_cli.py) seeds made-up cases over the last quarter into a database holding
none: sealed reports read by the indexer, then worked through the workflow.
"""

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from journalist_app import clock, create_app
from journalist_app.cli.main import DEMO_OFFICER, _read_demo_credentials, main
from journalist_app.config import OfficerConfig
from journalist_app.database import make_engine, make_session_factory
from journalist_app.keys import custody
from journalist_app.models import Case, Reply
from journalist_app.stats import summary
from tests.support.triage import log_in

NOW = datetime(2026, 12, 5, 12, 0)
COUNT = 40


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficerConfig]:
    """One demo data dir for the module (demo-init makes keys and GnuPG homes: slow)."""
    data_dir = tmp_path_factory.mktemp("demo") / "officer"
    public = str(data_dir.parent / "public")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IBLAGH_DATA_DIR", str(data_dir))
        patch.setenv("IBLAGH_KDF", "fast")
        patch.delenv("IBLAGH_DATABASE_URL", raising=False)
        patch.delenv("IBLAGH_SYNC_URL", raising=False)
        patch.setattr(clock, "source", lambda: NOW)
        assert main(["demo-init", "--public-out", public, "--demo-cases", str(COUNT)]) == 0
        # Again: the database holds cases now, so nothing is added.
        assert main(["demo-init", "--public-out", public, "--demo-cases", str(COUNT)]) == 0
    yield OfficerConfig.from_env(
        {"IBLAGH_DATA_DIR": str(data_dir), "IBLAGH_KDF": "fast", "IBLAGH_TESTING": "1"}
    )


def test_demo_init_seeds_a_quarter_of_worked_cases_once(demo) -> None:
    session = make_session_factory(make_engine(demo.database_url))()
    cases = list(session.scalars(select(Case)))

    assert len(cases) == COUNT
    assert all(NOW - timedelta(days=92) <= case.received <= NOW for case in cases)
    assert min(case.received for case in cases) < NOW - timedelta(days=45)
    assert len({case.category for case in cases}) >= 4
    assert len({case.territory_code for case in cases if case.territory_code}) >= 3
    assert {"new", "triaged", "referred", "closed"} <= {case.status for case in cases}
    assert any(case.assignee_id is not None for case in cases)
    # The notices to made-up reporters are never pushed to a public host.
    assert session.scalar(select(func.count()).where(Reply.pushed_at.is_(None))) == 0
    connection = session.connection()
    assert summary.stored(connection) == +summary.contributions(connection, None, None)


@pytest.mark.parametrize(
    ("language", "direction", "fraud", "referred"),
    [
        ("ar", "rtl", "الاحتيال والنصب والابتزاز", "محال"),
        ("fr", "ltr", "Fraude, escroqueries et extorsion", "Transmis"),
    ],
)
def test_a_supervisor_sees_the_demo_figures(demo, language, direction, fraud, referred) -> None:
    session = make_session_factory(make_engine(demo.database_url))()
    passphrase = _read_demo_credentials(demo.data_dir / "demo-credentials.txt")[DEMO_OFFICER]
    keyring = custody.unlock(session, DEMO_OFFICER, passphrase, demo.wrap_params)
    app = create_app(demo)
    client = app.test_client()
    log_in(app, client, keyring)
    quarter = f"start={(NOW - timedelta(days=91)).date()}&end={NOW.date()}"

    html = client.get(f"/stats?lang={language}&{quarter}").get_data(as_text=True)

    assert f'dir="{direction}"' in html
    assert f'<th scope="row">{fraud}</th>' in html
    assert f'<th scope="row">{referred}</th>' in html
    assert client.get(f"/stats/chart/by_territory.svg?lang={language}&{quarter}").status_code == 200
