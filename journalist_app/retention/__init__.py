"""Retention and legal hold: how long a case is kept, what holds it, and its purge.

Rules are data (journalist_app/data/retention.toml, docs/retention.md); a case's purge
date is computed from clear fields (its status, closing reason, category, the time of
its last status change and of the last material added), never stored.
"""
