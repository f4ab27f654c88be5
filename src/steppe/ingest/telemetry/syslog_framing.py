"""Cutting a syslog TCP stream into messages (RFC 6587), within a size limit.

Two framings exist and a connection uses one; it is recognised from the first byte:
a digit starts *octet counting* (``LEN SP MSG``), anything else (normally ``<``) means
*non-transparent* framing, one message per line.

    >>> framer = StreamFramer(max_message_bytes=16)
    >>> framer.feed(b"12 <13>hello w")
    []
    >>> framer.feed(b"o12 <13>second!\\n")
    [(b'<13>hello wo', False), (b'<13>second!\\n', False)]

A message over the limit is kept, cut at ``max_message_bytes`` and flagged truncated;
the rest of it is skipped (octet counting knows how much; a line is skipped up to its
newline). A length that is not a number cannot be recovered from: the framer returns
the messages before it, sets :attr:`StreamFramer.error` and reads no further; the
connection should be closed.

    >>> framer = StreamFramer(max_message_bytes=64)
    >>> framer.feed(b"5 <13>a5x <13>b"), framer.error
    ([(b'<13>a', False)], "octet count expected, got b'5x'")

    >>> StreamFramer(max_message_bytes=8).feed(b"<13>far too long for this\\nok\\n")
    [(b'<13>far ', True), (b'ok', False)]
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Frame", "Framing", "StreamFramer"]

#: A frame: the message bytes and whether they were cut at the size limit.
Frame = tuple[bytes, bool]

# Octet counts longer than this many digits are not lengths (10 digits ≈ 10 GB).
_MAX_LEN_DIGITS = 10
_BLANK = b"\r\n\x00 \t"


class Framing(StrEnum):
    OCTET_COUNTING = "octet-counting"
    NON_TRANSPARENT = "non-transparent"


class StreamFramer:
    """Feed it the bytes of one connection as they come; it returns whole messages."""

    def __init__(self, *, max_message_bytes: int) -> None:
        self.max_message_bytes = max_message_bytes
        self.framing: Framing | None = None
        self._buf = bytearray()
        # Octet counting: bytes of the current message still to keep, then to skip.
        self._keep: int | None = None
        self._skip = 0
        self._cut = False
        # Non-transparent: skipping the rest of an over-long line.
        self._discarding = False
        #: Why the stream cannot be cut into messages any more, once that happened.
        self.error: str | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        if self.error is not None:
            return []
        self._buf += data
        if self.framing is None:
            start = _first_content(self._buf)
            if start < 0:
                self._buf.clear()
                return []
            first = self._buf[start]
            self.framing = (
                Framing.OCTET_COUNTING if 0x30 <= first <= 0x39 else Framing.NON_TRANSPARENT
            )
        if self.framing is Framing.OCTET_COUNTING:
            return self._octets()
        return self._lines()

    def finish(self) -> tuple[list[Frame], int]:
        """At end of stream: a last unterminated line, and bytes of a cut-off frame lost."""
        frames: list[Frame] = []
        lost = 0
        if self.error is not None:
            pass
        elif self.framing is Framing.NON_TRANSPARENT and not self._discarding:
            line = bytes(self._buf)
            if line.strip(_BLANK):
                frames.append((line, False))
        elif self.framing is Framing.OCTET_COUNTING:
            midway = self._keep is not None or self._skip > 0
            lost = 1 if midway or bytes(self._buf).strip(_BLANK) else 0
        self._buf.clear()
        return frames, lost

    def _octets(self) -> list[Frame]:
        buf = self._buf
        out: list[Frame] = []
        pos = 0
        end = len(buf)
        while pos < end:
            if self._skip:
                n = min(self._skip, end - pos)
                pos += n
                self._skip -= n
                continue
            if self._keep is None:
                # Some senders put a newline between counted frames; tolerate it.
                while pos < end and buf[pos] in _BLANK:
                    pos += 1
                if pos >= end:
                    break
                space = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if space < 0:
                    waiting = bytes(buf[pos:end])
                    if len(waiting) <= _MAX_LEN_DIGITS and waiting.isdigit():
                        break  # the rest of the count is on its way
                    head = waiting[:12]
                else:
                    head = bytes(buf[pos:space])
                if space < 0 or not head.isdigit():
                    self.error = f"octet count expected, got {head[:12]!r}"
                    self._buf.clear()
                    return out
                length = int(head)
                pos = space + 1
                self._keep = min(length, self.max_message_bytes)
                self._skip = length - self._keep
                self._cut = self._skip > 0
            if end - pos < self._keep:
                break
            if self._keep:
                out.append((bytes(buf[pos : pos + self._keep]), self._cut))
            pos += self._keep
            self._keep = None
        del buf[:pos]
        return out

    def _lines(self) -> list[Frame]:
        buf = self._buf
        out: list[Frame] = []
        limit = self.max_message_bytes
        pos = 0
        while True:
            newline = buf.find(b"\n", pos)
            if self._discarding:
                if newline < 0:
                    pos = len(buf)
                    break
                pos = newline + 1
                self._discarding = False
                continue
            if newline < 0:
                if len(buf) - pos > limit:
                    out.append((bytes(buf[pos : pos + limit]), True))
                    self._discarding = True
                    pos = len(buf)
                break
            line = bytes(buf[pos:newline])
            pos = newline + 1
            if len(line) > limit:
                out.append((line[:limit], True))
            elif line.strip(_BLANK):
                out.append((line, False))
        del buf[:pos]
        return out


def _first_content(buf: bytearray) -> int:
    for i, byte in enumerate(buf):
        if byte not in _BLANK:
            return i
    return -1
