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

A part writes its own output files, named by :func:`part_path` (``manifest.csv`` ->
``manifest.part2of8.csv``), next to the other parts' in the same output folder: per-row
files are disjoint between parts and every file is written atomically, so parts never
overwrite each other.  :func:`merge_csv_parts` (``signssl manifest merge``) joins the part
CSVs in part order after checking that parts ``1..N`` are all there, once each, and that
no row (same ``path`` and frame range) is in two parts.

>>> parse_part("2/3")
(2, 3)
>>> select_part(list("abcdefg"), (1, 3)), select_part(list("abcdefg"), (3, 3))
(['a', 'b', 'c'], ['f', 'g'])
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from signssl.errors import ConfigError, DataError
from signssl.utils import atomic_write_text

T = TypeVar("T")

#: the whole input (no ``--part`` given)
WHOLE: tuple[int, int] = (1, 1)

_PART = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")
_PART_NAME = re.compile(r"\.part(\d+)of(\d+)(?=\.[^.]*$|$)")


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


def part_path(path: str | Path, part: tuple[int, int]) -> Path:
    """The file a part writes instead of ``path``: ``out/index.csv`` -> ``out/index.part2of8.csv``
    (``path`` itself for the whole input)."""
    p = Path(path)
    return p.with_name(f"{p.stem}{part_suffix(part)}{p.suffix}") if part != WHOLE else p


def part_of_path(path: str | Path) -> tuple[int, int]:
    """``(I, N)`` from a name written by :func:`part_path`; :class:`DataError` otherwise."""
    m = _PART_NAME.search(Path(path).name)
    if m is None:
        raise DataError("not a part file: its name has no .partIofN (written by a command run "
                        "with --part I/N)", path)
    i, n = int(m.group(1)), int(m.group(2))
    if not 1 <= i <= n:
        raise DataError(f"part {i} of {n} is out of range", path)
    return i, n


def order_parts(paths: Sequence[str | Path]) -> list[Path]:
    """``paths`` sorted by part number after checking they are parts ``1..N`` of one
    ``N``, each once (a shell glob sorts ``part10of12`` before ``part2of12``)."""
    if not paths:
        raise ConfigError("no part files given: pass the files the --part runs wrote")
    by_part: dict[int, Path] = {}
    total = None
    for path in map(Path, paths):
        i, n = part_of_path(path)
        if total is not None and n != total:
            raise DataError(f"is a part of {n}, the others of {total}: merge one job's parts", path)
        total = n
        if i in by_part:
            raise DataError(f"part {i} of {n} given twice (also {by_part[i]})", path)
        by_part[i] = path
    missing = [i for i in range(1, (total or 0) + 1) if i not in by_part]
    if missing:
        raise DataError(f"part(s) {', '.join(map(str, missing))} of {total} missing: run them "
                        f"(--part I/{total}) and pass their files too", paths[0])
    return [by_part[i] for i in sorted(by_part)]


def merge_csv_parts(out: str | Path, paths: Sequence[str | Path]) -> int:
    """Write the part CSVs ``paths`` (any order) as one CSV ``out``; returns its row count.

    The rows are concatenated in part order, so the result is the CSV the unsplit run
    writes.  The parts must sit in ``out``'s folder (their relative paths are relative to
    it), share one header (empty parts aside), and no row (same ``path``, ``start``,
    ``end``; the whole row without a ``path`` column) may be in two parts.
    """
    out = Path(out)
    header: list[str] | None = None
    empty_head: list[str] | None = None
    rows: list[list[str]] = []
    seen: dict[tuple[str, ...], Path] = {}
    for path in order_parts(paths):
        if os.path.abspath(path.parent) != os.path.abspath(out.parent):
            raise DataError(f"part CSVs hold paths relative to their folder: write the merged "
                            f"file next to them ({path.parent / out.name})", path)
        try:
            table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read the part CSV: {e}", path) from None
        if not table:
            raise DataError("empty file: the part's run did not finish; rerun it", path)
        head, body = table[0], table[1:]
        if not body:  # an empty part (N > rows, or every row failed) only lends a header
            empty_head = empty_head or head
            continue
        if header is not None and head != header:
            raise DataError(f"columns {head} differ from the other parts' {header}", path)
        header = head
        cols = [head.index(c) for c in ("path", "start", "end") if c in head]
        for row in body:
            key = tuple(row[c] if c < len(row) else "" for c in cols) if cols else tuple(row)
            if key in seen:
                raise DataError(f"row {key} is also in {seen[key]}: parts of different inputs? "
                                "rerun the parts of one manifest", path)
            seen[key] = path
            rows.append(row)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerows([header or empty_head or [], *rows])
    atomic_write_text(out, buf.getvalue())
    return len(rows)
