"""The ``iblagh-officer`` command line."""
