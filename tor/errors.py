"""Typed failures of the onion layer, mapped to one-line messages at the CLI edge.

Each message says what to do next: an operator reads it in a terminal or a journal.
"""


class TorError(Exception):
    """Base of every expected failure of the onion layer."""


class TorNotInstalled(TorError):
    """No tor binary where we looked."""


class TorStartFailed(TorError):
    """tor exited or did not open its control port in time."""


class ControlPortUnreachable(TorError):
    """Nothing answers on the configured control port or socket, or it refused us."""


class InsecureKeyFile(TorError):
    """A key file or its folder can be read or changed by another user."""


class MalformedKey(TorError):
    """A key file or key string is not in the expected format."""


class MissingKeys(TorError):
    """The onion keys have not been created yet (``iblagh-tor init``)."""


class NoAuthorisedClient(TorError):
    """The sync service would be open to anyone: no officer host is authorised."""


class UnsafeTor(TorError):
    """The tor we attached to is configured in a way we refuse (logs addresses)."""


class PublishFailed(TorError):
    """tor refused to publish an onion service."""


class TorConfigError(TorError):
    """An ``IBLAGH_TOR_*`` variable has a value we cannot use."""


class BadArguments(TorError):
    """A command-line value we refuse (exit 2, as argparse's own usage errors do)."""
