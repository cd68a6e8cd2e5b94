"""Onion services for the public host, through stem and Debian's tor.

Placeholder until the Tor issue: the public site and the client-authorised sync
service will be published from here. Nothing imports it yet.
"""
