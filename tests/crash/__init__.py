"""Crash safety (docs/reliability.md, "Crash safety"): SIGKILL the public host while it
takes reports, and the officer's sync and air-gap import while they store them, then
check that no acknowledged report was lost, none is half visible, and every one opens.

``make test`` runs tests/crash/test_crash_safety.py (a few kills per target);
``make soak`` runs ``python -m tests.crash.run`` (100 kills per target) and prints the
figures.
"""
