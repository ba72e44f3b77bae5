"""``signssl.utils.progress_bar``: a redrawn bar on a terminal, plain lines in a log."""

from __future__ import annotations

import io

from signssl.utils import PLAIN_PROGRESS_SECONDS, interactive, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_plain_lines_at_the_start_and_the_end() -> None:
    log = io.StringIO()
    assert not interactive(log) and PLAIN_PROGRESS_SECONDS >= 10
    for _ in progress_bar(range(50), desc="convert", unit="seq", file=log):
        pass
    text = log.getvalue()
    assert "\r" not in text and text.endswith("\n")
    lines = text.splitlines()
    assert len(lines) == 2  # a fast job: no periodic line in between
    assert lines[0].startswith("convert:   0% 0/50 [") and "seq/s" in lines[0]
    assert lines[1].startswith("convert: 100% 50/50 [")


def test_periodic_lines_are_whole_lines_each() -> None:
    log = io.StringIO()
    bar = progress_bar(total=4, desc="priors", file=log, mininterval=0)
    for _ in range(4):
        bar.update(1)
    bar.close()
    lines = log.getvalue().splitlines()
    assert [line.split(" [")[0] for line in lines] == [
        "priors:   0% 0/4", "priors:  25% 1/4", "priors:  50% 2/4", "priors:  75% 3/4",
        "priors: 100% 4/4",
    ]  # the final redraw of 4/4 is not repeated
    log = io.StringIO()
    for _ in progress_bar(iter(range(3)), desc="gen", file=log):  # no known total
        pass
    assert [line.split(" [")[0] for line in log.getvalue().splitlines()] == ["gen: 0", "gen: 3"]


def test_a_terminal_gets_a_bar_redrawn_in_place_and_disable_prints_nothing() -> None:
    tty = Terminal()
    for _ in progress_bar(range(3), desc="synth", file=tty, mininterval=0):
        pass
    assert tty.getvalue().count("\r") >= 3 and "|" in tty.getvalue()
    log = io.StringIO()
    for _ in progress_bar(range(3), desc="synth", file=log, disable=True):
        pass
    assert log.getvalue() == ""
