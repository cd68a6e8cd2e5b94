"""Checking an envelope's framing without a key: what a host that stores it can verify.

When the reporter's browser seals (docs/envelope.md, "Who writes envelopes"), the public
host receives ciphertext it cannot open. It can still refuse what no honest writer
produces, before it stores anything: the magic, a recipient count and key ids equal, in
order, to the recipient set it serves, chunk lengths inside the spec's bounds, every
content chunk full but the last (the reference writers' chunking, so a browser-sealed
envelope is laid out exactly like a server-sealed one), a 40-byte trailer, and nothing
after it. Everything past the framing (the MAC of each chunk, the header binding, the
trailer's size and SHA-256) only a recipient can check, on the officer host.

The checker is fed the envelope piece by piece and holds at most a few bytes of it.
"""

import struct
from collections.abc import Sequence
from typing import Final

from crypto.envelope import (
    ABYTES,
    MAGIC,
    MAX_CHUNK_CIPHERTEXT,
    MAX_METADATA_BYTES,
    STANZA_BYTES,
    STREAM_HEADER_BYTES,
)
from crypto.errors import EnvelopeError
from crypto.keys import KEY_ID_BYTES

TRAILER_CHUNK_BYTES: Final = 40 + ABYTES
_LENGTH = struct.Struct(">I")


class FramingChecker:
    """Feed an envelope with :meth:`feed`, then :meth:`finish`; EnvelopeError if bad.

    ``key_ids`` are the 16-byte ids every stanza must name, in this order.
    """

    def __init__(self, key_ids: Sequence[bytes]) -> None:
        if not key_ids:
            raise ValueError("an envelope has at least one recipient")
        self._expected_header = MAGIC + bytes([len(key_ids)])
        self._key_ids = list(key_ids)
        self._header_size = len(self._expected_header) + STANZA_BYTES * len(key_ids)
        self._offset = 0  # bytes consumed so far
        self._pending = bytearray()  # a header field or length prefix being assembled
        self._skip = 0  # ciphertext bytes of the current chunk still to pass over
        self._chunks: list[int] = []  # lengths of the last chunks, at most three kept
        self._chunk_count = 0
        self.size = 0

    def feed(self, data: bytes) -> None:
        """Check the next piece of the envelope."""
        self.size += len(data)
        view = memoryview(data)
        while view:
            if self._offset < self._header_size + STREAM_HEADER_BYTES:
                take = min(len(view), self._header_size + STREAM_HEADER_BYTES - self._offset)
                self._check_header(bytes(view[:take]))
                self._offset += take
                view = view[take:]
            elif self._skip:
                take = min(len(view), self._skip)
                self._skip -= take
                self._offset += take
                view = view[take:]
            else:
                take = min(len(view), 4 - len(self._pending))
                self._pending += view[:take]
                self._offset += take
                view = view[take:]
                if len(self._pending) == 4:
                    (length,) = _LENGTH.unpack(self._pending)
                    self._pending.clear()
                    self._start_chunk(length)

    def _check_header(self, piece: bytes) -> None:
        for index, byte in enumerate(piece):
            position = self._offset + index
            if position < len(self._expected_header):
                if byte != self._expected_header[position]:
                    raise EnvelopeError("not an envelope to this recipient set")
                continue
            stanza_offset = position - len(self._expected_header)
            stanza, within = divmod(stanza_offset, STANZA_BYTES)
            if (
                stanza < len(self._key_ids)
                and within < KEY_ID_BYTES
                and byte != self._key_ids[stanza][within]
            ):
                raise EnvelopeError("a stanza does not name the expected recipient")

    def _start_chunk(self, length: int) -> None:
        if length < ABYTES or length > MAX_CHUNK_CIPHERTEXT:
            raise EnvelopeError("invalid chunk length")
        if self._chunk_count == 0 and length > MAX_METADATA_BYTES + ABYTES:
            raise EnvelopeError("metadata too large")
        # Two chunks back is content followed by content: it must have been full.
        if self._chunk_count >= 3 and self._chunks[-2] != MAX_CHUNK_CIPHERTEXT:
            raise EnvelopeError("a content chunk before the last is not full")
        self._chunks = [*self._chunks[-2:], length]
        self._chunk_count += 1
        self._skip = length

    def finish(self) -> int:
        """Check that the envelope ended where a writer ends it; returns its size."""
        if self._offset < self._header_size + STREAM_HEADER_BYTES or self._skip or self._pending:
            raise EnvelopeError("envelope truncated")
        if self._chunk_count < 2:
            raise EnvelopeError("an envelope has metadata and a trailer")
        if self._chunks[-1] != TRAILER_CHUNK_BYTES:
            raise EnvelopeError("the last chunk is not a trailer")
        if self._chunk_count >= 3 and self._chunks[-2] == ABYTES:
            raise EnvelopeError("empty content chunk")
        return self.size


def check_framing(envelope: bytes, key_ids: Sequence[bytes]) -> None:
    """Check a whole envelope held in memory (see :class:`FramingChecker`)."""
    checker = FramingChecker(key_ids)
    checker.feed(envelope)
    checker.finish()
