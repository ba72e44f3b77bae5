"""``--part I/N`` of the bulk commands (``extract-poses``, ``extract-features``, ``priors``,
``embed``): shared help text and parsing (:mod:`signssl.data.parts`)."""

from __future__ import annotations

from signssl.data.parts import WHOLE, parse_part

PART_HELP = ("Process only part I of N of the input rows (contiguous blocks of manifest rows, "
             "e.g. 2/8 for a job array); outputs are named *.partIofN.*; join them with "
             "`signssl manifest merge` (docs/distributed.md).")


def read_part(text: str | None) -> tuple[int, int]:
    """``--part`` text -> ``(I, N)``; no option = the whole input ``(1, 1)``."""
    return WHOLE if text is None else parse_part(text)
