"""Offline technical diagnostics: addresses, files, hash lists (docs/triage.md).

Nothing here reaches the network: the public-suffix list is tldextract's bundled
snapshot, short links are flagged, never followed, and files are read in memory.
"""
