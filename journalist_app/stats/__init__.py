"""The unit's figures, counted from what the officer host keeps in the clear for triage.

Nothing here decrypts: every figure is an SQL aggregate over ``cases``, ``report_triage``,
``reports`` and ``case_events`` (docs/triage.md, "Triage fields in the clear"), and
:data:`journalist_app.stats.figures.SOURCES` names the columns behind each one.
"""
