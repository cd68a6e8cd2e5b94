"""Backups of either host: a folder of files, each listed with its SHA-256 in a manifest.

Shared by ``source_app`` and ``journalist_app`` the way ``crypto/`` is, and for the same
reason: both hosts write and check one format. It imports nothing of either app; each app
decides what goes in (source_app/backup.py, journalist_app/backup.py) and the procedure
is in docs/operator.md, §6.
"""
