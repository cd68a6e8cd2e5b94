"""What the public host checks in a browser-sealed envelope without a key (framing)."""

import pytest
from nacl.public import PrivateKey

from crypto.envelope import EnvelopeError, EnvelopeMetadata, seal_bytes
from crypto.envelope_framing import FramingChecker, check_framing
from crypto.keys import key_id

KEYS = [PrivateKey.generate().public_key for _ in range(2)]
IDS = [key_id(bytes(k)) for k in KEYS]
META = EnvelopeMetadata(kind="attachment", name="f.bin")


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, 200_000])
def test_every_envelope_the_writer_makes_passes_whole_and_byte_by_byte(size: int) -> None:
    envelope = seal_bytes(b"\x5a" * size, KEYS, META)
    check_framing(envelope, IDS)
    checker = FramingChecker(IDS)
    for index in range(0, len(envelope), 7):
        checker.feed(envelope[index : index + 7])
    assert checker.finish() == len(envelope)


def test_stanzas_must_name_exactly_the_recipient_set_in_order() -> None:
    envelope = seal_bytes(b"report", KEYS, META)
    with pytest.raises(EnvelopeError):
        check_framing(envelope, list(reversed(IDS)))
    with pytest.raises(EnvelopeError):
        check_framing(envelope, IDS[:1])
    with pytest.raises(EnvelopeError):
        check_framing(seal_bytes(b"report", KEYS[:1], META), IDS)
    stranger = key_id(bytes(PrivateKey.generate().public_key))
    with pytest.raises(EnvelopeError):
        check_framing(envelope, [IDS[0], stranger])


def test_truncated_appended_or_rechunked_envelopes_are_refused() -> None:
    envelope = seal_bytes(b"\x01" * 70_000, KEYS, META)
    for cut in (0, 8, 9 + 96, 9 + 192 + 10, len(envelope) - 1):
        with pytest.raises(EnvelopeError):
            check_framing(envelope[:cut], IDS)
    with pytest.raises(EnvelopeError):
        check_framing(envelope + b"\x00", IDS)
    with pytest.raises(EnvelopeError):
        check_framing(envelope[:-1] + b"\x00" + envelope[-1:], IDS)
    # Three chunks of 3, 1 and 5 bytes: valid for a reader, never what a writer makes.
    from crypto.envelope import EnvelopeWriter

    out = bytearray()

    class Sink:
        def write(self, data: bytes) -> None:
            out.extend(data)

    writer = EnvelopeWriter(Sink(), KEYS, META)
    writer._push(b"abc")
    writer.write(b"defghi")
    writer.close()
    with pytest.raises(EnvelopeError, match="not full"):
        check_framing(bytes(out), IDS)


def test_a_wrong_magic_or_count_is_refused() -> None:
    envelope = seal_bytes(b"x", KEYS, META)
    with pytest.raises(EnvelopeError):
        check_framing(b"IBLAGH/2" + envelope[8:], IDS)
    with pytest.raises(EnvelopeError):
        check_framing(envelope[:8] + b"\x03" + envelope[9:], IDS)
