"""Progress bars: drawn on a terminal, silent in a pipe or CI."""

import io

from journalist_app.cli.progress import Phases, make_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_draws_on_a_terminal_and_stays_silent_elsewhere() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        bar = make_bar("importing", 4, unit="submission", stream=stream)
        bar.update(4)
        bar.close()
    assert "importing" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_phases_replace_one_bar_by_the_next_and_close_it() -> None:
    terminal = Terminal()
    with Phases(stream=terminal) as phases:
        phases.start("verifying", 100, in_bytes=True)
        first = phases.current
        phases.advance(100)
        assert first is not None and first.n == 100 and first.total == 100
        phases.start("storing", 2)
        second = phases.current
        assert second is not None and second is not first
        assert first.disable, "the first bar was closed when the second began"
        phases.advance()
        assert second.n == 1 and second.total == 2
    assert phases.current is None and second.disable, "leaving the block closes the last bar"
    phases.advance()  # after closing: nothing to update, no error
    drawn = terminal.getvalue()
    assert "verifying" in drawn and "storing" in drawn
    assert drawn.index("verifying") < drawn.index("storing")
