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
    with Phases() as phases:
        phases.start("verifying", 100, in_bytes=True)
        phases.advance(100)
        phases.start("storing", 2)
        phases.advance()
    phases.advance()  # after closing: nothing to update, no error
