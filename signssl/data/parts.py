"""Split a bulk job into ``N`` independent parts by manifest row (``--part I/N``).

A bulk command (``extract-poses``, ``extract-features``, ``priors``, ``embed``,
``shard``) given ``--part I/N`` processes only the ``I``-th of ``N`` parts of its input
rows, so ``N`` workers (a SLURM job array, any scheduler) run with no coordination.

Parts are **contiguous blocks** of row indices, sized like ``numpy.array_split``: with
``n`` rows, the first ``n % N`` parts hold ``n // N + 1`` rows and the others ``n // N``
(so when ``N > n`` the last ``N - n`` parts are empty).  Hence:

* every row is in exactly one part, for any ``N >= 1``;
* each part keeps the input order;
* concatenating parts ``1..N`` in order gives the input rows back, so merging the part
  outputs in part order gives exactly the unsplit output.

>>> parse_part("2/3")
(2, 3)
>>> select_part(list("abcdefg"), (1, 3)), select_part(list("abcdefg"), (3, 3))
(['a', 'b', 'c'], ['f', 'g'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from signssl.errors import ConfigError

T = TypeVar("T")

#: the whole input (no ``--part`` given)
WHOLE: tuple[int, int] = (1, 1)

_PART = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def parse_part(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``1 <= I <= N``; anything else is a :class:`ConfigError`."""
    m = _PART.fullmatch(text or "")
    if m is None:
        raise ConfigError(
            f"--part must be I/N with whole numbers, e.g. --part 2/8 (part 2 of 8), got {text!r}"
        )
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= i <= n:
        raise ConfigError(
            f"--part {text}: I must be between 1 and N and N at least 1, e.g. --part 1/{max(n, 1)}"
        )
    return i, n


def part_bounds(n_rows: int, part: tuple[int, int]) -> tuple[int, int]:
    """Row index range ``[start, stop)`` of ``part`` among ``n_rows`` rows."""
    i, n = part
    if n < 1 or not 1 <= i <= n:
        raise ConfigError(f"part {i}/{n}: I must be between 1 and N and N at least 1")
    size, extra = divmod(n_rows, n)
    k = i - 1  # 0-based part index
    start = k * size + min(k, extra)
    return start, start + size + (1 if k < extra else 0)


def select_part(items: Sequence[T], part: tuple[int, int]) -> list[T]:
    """The rows of ``items`` in ``part`` (a contiguous block, input order kept)."""
    start, stop = part_bounds(len(items), part)
    return list(items[start:stop])


def part_suffix(part: tuple[int, int]) -> str:
    """File-name suffix naming a part, ``""`` for the whole input: ``(2, 8)`` -> ``".part2of8"``."""
    i, n = part
    return "" if part == WHOLE else f".part{i}of{n}"
