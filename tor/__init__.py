"""Onion services for the public host, through stem and Debian's tor.

The public site is published as a v3 onion service with proof-of-work defence; the
sync API behind a second v3 onion service that only authorised officer hosts (v3
client authorisation) can reach. ``iblagh-tor`` (tor/cli.py) is the operator's door.

Modules, by noun: ``keys`` (persistent onion keys and file permissions),
``client_auth`` (x25519 client keys in tor's formats), ``process`` (launch or attach
to a tor), ``onion`` (ADD_ONION through the control port), ``host`` (the public host's
two services), ``config`` (``IBLAGH_TOR_*`` variables), ``errors``.
"""
