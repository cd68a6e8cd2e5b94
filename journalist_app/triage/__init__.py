"""Triage on the officer host: the queue, cases, their workflow and safe reading.

The layers point down: ``journalist_app.views.cases`` calls these services, which use
``journalist_app.models`` and ``crypto``. See docs/triage.md.
"""
