"""Sync on a schedule while an officer holding the sync key is logged in; a count of
new cases in the header."""

import dataclasses

from sqlalchemy import select

from journalist_app import create_app
from journalist_app.models import AuditEntry, Report
from journalist_app.sync.schedule import AutoSync
from journalist_app.views.context import EXTENSION
from tests.journalist_app.test_officer_web_reports import HOSTILE


def test_the_schedule_syncs_with_a_logged_in_officers_keys(app, client, auth, mailbox) -> None:
    state = app.extensions[EXTENSION]
    scheduler = AutoSync(state, 3600)
    mailbox.add_report(HOSTILE)
    assert scheduler.tick() == "nobody", "no keys in memory: nothing is pulled"

    auth.login()
    assert scheduler.tick() == "synced"

    with state.session_factory() as session:
        assert len(session.scalars(select(Report)).all()) == 1
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "sync.completed")
        ).one()
        assert '"via":"schedule"' in entry.details and entry.actor == "alice"
    page = client.get("/cases?lang=en").get_data(as_text=True)
    assert '<span class="count-badge">1 new</span>' in page


def test_the_app_starts_the_schedule_only_when_asked(synced_config, unit) -> None:
    assert "iblagh_autosync" not in create_app(synced_config).extensions
    scheduled = create_app(dataclasses.replace(synced_config, sync_interval_minutes=5))
    scheduler = scheduled.extensions["iblagh_autosync"]
    assert isinstance(scheduler, AutoSync)
    scheduler.stop()
