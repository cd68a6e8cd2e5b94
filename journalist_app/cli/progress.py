"""Progress bars for the long commands (sync, export, import, upload).

Bars go to stderr and only to a terminal: in CI or a pipe they are silent, and each
command still prints its one-line summary on stdout.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


def make_bar(
    description: str,
    total: int | None = None,
    *,
    unit: str = "it",
    in_bytes: bool = False,
    stream: TextIO | None = None,
) -> "tqdm[Any]":
    """A tqdm bar on ``stream`` (stderr), disabled unless that stream is a terminal."""
    target = stream or sys.stderr
    bar: tqdm[Any] = tqdm(
        total=total,
        desc=description,
        unit="B" if in_bytes else unit,
        unit_scale=in_bytes,
        unit_divisor=1024 if in_bytes else 1000,
        file=target,
        disable=not target.isatty(),
        leave=False,
        dynamic_ncols=True,
    )
    return bar


@contextmanager
def progress_bar(
    description: str, total: int | None = None, *, unit: str = "it", in_bytes: bool = False
) -> Iterator["tqdm[Any]"]:
    """:func:`make_bar` for the length of a block."""
    bar = make_bar(description, total, unit=unit, in_bytes=in_bytes)
    try:
        yield bar
    finally:
        bar.close()


def say(line: str, out: TextIO) -> None:
    """Print a line without tearing a bar that is being drawn."""
    tqdm.write(line, file=out)


class Phases:
    """One bar at a time, for a command with steps: verify the file, then apply it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._bar: tqdm[Any] | None = None
        self._stream = stream

    def start(
        self,
        description: str,
        total: int | None = None,
        *,
        unit: str = "it",
        in_bytes: bool = False,
    ) -> None:
        self.close()
        self._bar = make_bar(description, total, unit=unit, in_bytes=in_bytes, stream=self._stream)

    @property
    def current(self) -> "tqdm[Any] | None":
        """The bar being drawn, if a phase is under way."""
        return self._bar

    def advance(self, amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> "Phases":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
