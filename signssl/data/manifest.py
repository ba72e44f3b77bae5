"""Manifests: which samples a dataset holds, with their label, signer, split and frames.

A manifest is a CSV file with one row per sample and the columns

=========  ========  ============================================================
column     required  meaning
=========  ========  ============================================================
path       yes       the sample: a pose file, an MP_Data sequence folder, a video…;
                     relative to the manifest's folder, or absolute
label      no        class name (gloss); empty = unlabeled
signer     no        signer id; empty = unknown
split      no        ``train`` / ``val`` / ``test``; empty = none.  Other names are
                     read but refused where a split selects rows (pretraining,
                     evaluation), so a misspelt ``tset`` cannot leak test clips
start      no        first frame, 0-based; empty = 0
end        no        frame after the last one (exclusive, like a Python slice);
                     empty or ``-1`` = to the end (WLASL's ``frame_end = -1``)
=========  ========  ============================================================

Any other column (e.g. the phonological parameters of a synthetic set) is kept verbatim
in :attr:`ManifestRow.extra` and written back (a row lacking one gets an empty cell,
read back as ``""``).  Cells are strings; surrounding blanks
are stripped and an empty cell means "not given" (``None``).

A row repeating an earlier one (same path and frame range) is refused when the CSV is
read: a clip counted twice is its own nearest neighbour in leave-one-out retrieval and
k-NN.  :func:`drop_duplicates` (``signssl manifest dedupe``) keeps the first of each.

Example::

    path,label,signer,split,start,end
    book/0,book,s01,train,,
    /data/wlasl/poses/69241.pose,book,118,test,12,60
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from signssl.errors import DataError
from signssl.utils import atomic_write_text

#: the standard columns, in the order they are written
COLUMNS: tuple[str, ...] = ("path", "label", "signer", "split", "start", "end")
REQUIRED_COLUMNS: tuple[str, ...] = ("path",)
#: the split names the commands use (pretraining reads ``train``, evaluation ``test``)
KNOWN_SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class ManifestRow:
    """One sample of a manifest.

    Args:
        path: the sample, as written in the manifest (relative to ``Manifest.root`` or
            absolute); use :meth:`Manifest.resolve` to get the file.
        label: class name, ``None`` when unlabeled.
        signer: signer id, ``None`` when unknown.
        split: split name (``train``/``val``/``test``), ``None`` when not assigned.
        start: first frame (0-based), ``None`` = from the first frame.
        end: frame after the last (exclusive), ``None`` = to the end.
        extra: further columns, name -> cell text.
    """

    path: str
    label: str | None = None
    signer: str | None = None
    split: str | None = None
    start: int | None = None
    end: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not str(self.path).strip():
            raise DataError("a manifest row needs a non-empty path")
        if self.start is not None and self.start < 0:
            raise DataError(f"start frame must be >= 0, got {self.start}", self.path)
        if self.end is not None and self.end <= (self.start or 0):
            raise DataError(
                f"end frame {self.end} must be greater than start frame {self.start or 0} "
                "(end is exclusive; leave it empty or write -1 for 'to the end')",
                self.path,
            )
        clash = set(self.extra) & set(COLUMNS)
        if clash:
            raise DataError(f"extra columns may not reuse standard names: {sorted(clash)}", self.path)

    @property
    def frame_range(self) -> tuple[int | None, int | None]:
        """``(start, end)`` as slice bounds (``None`` = open)."""
        return self.start, self.end

    @property
    def clip_key(self) -> tuple[str, int, int | None]:
        """What identifies the clip: normalised path, first frame, end (``None`` = open)."""
        return os.path.normpath(self.path), self.start or 0, self.end


class Manifest(Sequence[ManifestRow]):
    """An ordered list of :class:`ManifestRow` plus the folder relative paths start from.

    Args:
        rows: the samples.
        root: folder that relative row paths are relative to; ``None`` = the current
            working directory.  :meth:`read` sets it to the CSV file's folder.
        source: the CSV file it was read from, for messages (set by :meth:`read`).
    """

    def __init__(self, rows: Iterable[ManifestRow], root: str | Path | None = None,
                 source: str | Path | None = None) -> None:
        self.rows: list[ManifestRow] = list(rows)
        self.root: Path | None = None if root is None else Path(root)
        self.source: Path | None = None if source is None else Path(source)
        self.dropped_duplicates = 0  # rows :meth:`read` dropped (``duplicates="drop"``)

    # -- sequence protocol
    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int | slice) -> ManifestRow | Manifest:  # type: ignore[override]
        if isinstance(i, slice):
            return Manifest(self.rows[i], self.root, self.source)
        return self.rows[i]

    def __iter__(self) -> Iterator[ManifestRow]:
        return iter(self.rows)

    def __repr__(self) -> str:
        splits = dict(Counter(r.split or "-" for r in self.rows))
        return (
            f"Manifest({len(self)} rows, {len(self.labels())} labels, "
            f"{len(self.signers())} signers, splits={splits}, root={self.root})"
        )

    # -- paths
    def resolve(self, row: ManifestRow | int) -> Path:
        """Absolute path of a row's sample (``root / path`` unless ``path`` is absolute)."""
        if isinstance(row, int):
            row = self.rows[row]
        p = Path(row.path).expanduser()
        if not p.is_absolute():
            p = (self.root if self.root is not None else Path.cwd()) / p
        return Path(os.path.abspath(p))

    # -- queries
    def labels(self) -> list[str]:
        """Sorted list of the distinct labels (unlabeled rows ignored): the class list."""
        return sorted({r.label for r in self.rows if r.label is not None})

    def label_to_index(self) -> dict[str, int]:
        """Class name -> index in :meth:`labels`."""
        return {name: i for i, name in enumerate(self.labels())}

    def signers(self) -> list[str]:
        """Sorted list of the distinct known signers."""
        return sorted({r.signer for r in self.rows if r.signer is not None})

    def splits(self) -> dict[str, int]:
        """Split name -> number of rows (rows without a split counted under ``""``)."""
        return dict(sorted(Counter(r.split or "" for r in self.rows).items()))

    def unknown_splits(self, also: Iterable[str] = ()) -> dict[str, int]:
        """Split names outside :data:`KNOWN_SPLITS` (and ``also``) -> their row counts."""
        known = set(KNOWN_SPLITS) | set(also)
        return {s: n for s, n in self.splits().items() if s and s not in known}

    def extra_columns(self) -> list[str]:
        """Names of the non-standard columns, in order of first appearance."""
        seen: dict[str, None] = {}
        for r in self.rows:
            seen.update(dict.fromkeys(r.extra))
        return list(seen)

    def filter(
        self,
        split: str | Sequence[str] | None = None,
        label: str | Sequence[str] | None = None,
        signer: str | Sequence[str] | None = None,
    ) -> Manifest:
        """Rows matching every given criterion (a value or a list of accepted values).

        The result may be empty (e.g. ``split="val"`` when no validation split was made).
        """
        rows = self.rows
        if split is not None:
            wanted = _as_set(split)
            rows = [r for r in rows if r.split in wanted]
        if label is not None:
            wanted = _as_set(label)
            rows = [r for r in rows if r.label in wanted]
        if signer is not None:
            wanted = _as_set(signer)
            rows = [r for r in rows if r.signer in wanted]
        return Manifest(rows, self.root, self.source)

    def label_indices(self, classes: Sequence[str] | None = None) -> list[int]:
        """Class index of every row (-1 for unlabeled rows).

        Args:
            classes: the class list (e.g. the training manifest's :meth:`labels`);
                ``None`` = this manifest's own :meth:`labels`.
        Raises:
            DataError: a row's label is not in ``classes`` (names the labels and files).
        """
        index = self.label_to_index() if classes is None else class_index(classes)
        unknown = [r for r in self.rows if r.label is not None and r.label not in index]
        if unknown:
            names = sorted({r.label for r in unknown if r.label is not None})
            raise DataError(
                f"{len(unknown)} row(s) have labels not in the class list of {len(index)} "
                f"classes: {names[:10]}{' …' if len(names) > 10 else ''} (first file: "
                f"{unknown[0].path}); evaluate with the class list the model was trained on "
                "and drop or relabel these rows"
            )
        return [index[r.label] if r.label is not None else -1 for r in self.rows]

    # -- I/O
    @classmethod
    def read(cls, csv_path: str | Path, duplicates: str = "error") -> Manifest:
        """Read a manifest CSV (see the module docstring); ``root`` = its folder.

        Args:
            duplicates: ``"error"`` refuses rows repeating an earlier one (same path and
                frame range); ``"drop"`` keeps the first of each (:func:`drop_duplicates`).
        Raises:
            DataError: the file is missing, has no ``path`` column, a repeated column, a
                row with the wrong number of cells or a bad frame number (the message
                gives the line), or repeated rows.
        """
        p = Path(csv_path)
        if not p.is_file():
            raise DataError("manifest file does not exist", p)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(f"cannot read the manifest as UTF-8 text: {e}", p) from None
        rows, lines = _parse_csv(text, str(p))
        kept, repeats = _first_of_each(rows)
        if repeats:
            _refuse_repeats(repeats, rows, lines, str(p), strict=duplicates != "drop")
            rows = [rows[i] for i in kept]
        out = cls(rows, root=Path(os.path.abspath(p.parent)), source=p)
        out.dropped_duplicates = len(repeats)
        return out

    def to_csv_text(self, base: str | Path | None = None) -> str:
        """The CSV text; paths under ``base`` are written relative to it, others absolute.

        ``base=None`` writes the paths as stored.
        """
        extras = self.extra_columns()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(list(COLUMNS) + extras)
        for r in self.rows:
            path = r.path if base is None else self._portable_path(r, Path(base))
            cells = [path, r.label, r.signer, r.split, r.start, r.end]
            writer.writerow(["" if c is None else c for c in cells] + [r.extra.get(k, "") for k in extras])
        return buf.getvalue()

    def where(self) -> str:
        """The CSV file for messages (``"the manifest"`` when built in memory)."""
        return str(self.source) if self.source is not None else "the manifest"

    def write(self, csv_path: str | Path) -> Manifest:
        """Write atomically; returns the manifest as it reads back (root = the CSV's folder).

        A sample inside the CSV's folder is written with a relative path (the folder can
        be moved as a whole); any other sample with its absolute path.
        """
        p = Path(csv_path)
        base = Path(os.path.abspath(p.parent))
        atomic_write_text(p, self.to_csv_text(base))
        return Manifest(
            [_with_path(r, self._portable_path(r, base)) for r in self.rows], root=base, source=p
        )

    def _portable_path(self, row: ManifestRow, base: Path) -> str:
        target = self.resolve(row)
        if target.is_relative_to(base):
            return target.relative_to(base).as_posix()
        return str(target)


# ----------------------------------------------------------------------------- helpers

def class_index(classes: Sequence[str]) -> dict[str, int]:
    """``{name: position}`` of a class list; raises :class:`DataError` on repeats."""
    index = {c: i for i, c in enumerate(classes)}
    if len(index) != len(classes):
        dup = sorted(c for c, n in Counter(classes).items() if n > 1)
        raise DataError(f"the class list repeats {dup}")
    return index


def _first_of_each(rows: Sequence[ManifestRow]) -> tuple[list[int], list[tuple[int, int]]]:
    """Indices of the first row of each clip, and ``(repeat, first)`` index pairs."""
    first: dict[tuple[str, int, int | None], int] = {}
    kept: list[int] = []
    repeats: list[tuple[int, int]] = []
    for i, r in enumerate(rows):
        j = first.setdefault(r.clip_key, i)
        if j == i:
            kept.append(i)
        else:
            repeats.append((i, j))
    return kept, repeats


def _differs(a: ManifestRow, b: ManifestRow) -> bool:
    return (a.label, a.signer, a.split) != (b.label, b.signer, b.split)


def _refuse_repeats(repeats: list[tuple[int, int]], rows: Sequence[ManifestRow],
                    lines: Sequence[int], source: str, strict: bool) -> None:
    """Raise for repeated rows (all of them when ``strict``, else the conflicting ones)."""
    conflicts = [(i, j) for i, j in repeats if _differs(rows[i], rows[j])]
    if conflicts:
        i, j = conflicts[0]
        a, b = rows[j], rows[i]
        raise DataError(
            f"{len(conflicts)} row(s) repeat the clip of an earlier row (same path and frame "
            f"range) with another label, signer or split, e.g. line {lines[i]} "
            f"({b.path}: label {b.label!r}, split {b.split!r}) repeats line {lines[j]} "
            f"(label {a.label!r}, split {a.split!r}); decide which row is right and delete "
            "the other",
            source,
        )
    if strict:
        i, j = repeats[0]
        raise DataError(
            f"{len(repeats)} row(s) repeat an earlier row (same path and frame range), e.g. "
            f"line {lines[i]} repeats line {lines[j]} ({rows[i].path}); a clip listed twice "
            "is its own nearest neighbour in leave-one-out retrieval and k-NN. Remove them: "
            f"signssl manifest dedupe {source} -o OUT.csv (keeps the first of each)",
            source,
        )


def drop_duplicates(manifest: Manifest) -> tuple[Manifest, list[tuple[ManifestRow, ManifestRow]]]:
    """The manifest without rows repeating an earlier one (same path and frame range),
    and the ``(dropped, kept)`` row pairs.  Repeats that differ in label, signer or split
    are kept in the pairs too: the caller decides whether to refuse them."""
    kept, repeats = _first_of_each(manifest.rows)
    rows = manifest.rows
    pairs = [(rows[i], rows[j]) for i, j in repeats]
    return Manifest([rows[i] for i in kept], manifest.root, manifest.source), pairs


def _as_set(value: str | Sequence[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _with_path(row: ManifestRow, path: str) -> ManifestRow:
    kw = {f.name: getattr(row, f.name) for f in fields(row)}
    kw["path"] = path
    return ManifestRow(**kw)


def _cell(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _frame(value: str | None, column: str, where: str) -> int | None:
    text = _cell(value)
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        raise DataError(f"{where}: column '{column}' must be a whole frame number, got {text!r}") from None
    if column == "end" and n == -1:
        return None  # WLASL convention: -1 = to the end
    if n < 0:
        raise DataError(
            f"{where}: column '{column}' must be >= 0 (or -1 for end = 'to the end'), got {n}"
        )
    return n


def _parse_csv(text: str, source: str) -> tuple[list[ManifestRow], list[int]]:
    """Rows of a manifest CSV and their line numbers; ``source`` names the file in messages."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("manifest is empty; it needs a header line starting with 'path'", source) from None
    except csv.Error as e:
        raise DataError(f"malformed CSV header: {e}", source) from None
    header = [h.strip() for h in header]
    for name in REQUIRED_COLUMNS:
        if name not in header:
            raise DataError(
                f"manifest has no '{name}' column (columns: {header}); the header must name "
                f"the columns, e.g. {','.join(COLUMNS)}",
                source,
            )
    repeated = sorted(h for h, n in Counter(header).items() if n > 1)
    if repeated or "" in header:
        raise DataError(f"manifest header has repeated or empty column names: {header}", source)
    extras = [h for h in header if h not in COLUMNS]
    rows: list[ManifestRow] = []
    lines: list[int] = []
    try:
        for cells in reader:
            line = reader.line_num
            if not cells or all(not c.strip() for c in cells):
                continue  # blank line
            where = f"{source}, line {line}"
            if len(cells) != len(header):
                raise DataError(
                    f"{where}: {len(cells)} cells but the header has {len(header)} columns "
                    "(quote cells that contain commas)"
                )
            rec = dict(zip(header, cells, strict=True))
            path = _cell(rec["path"])
            if path is None:
                raise DataError(f"{where}: empty path")
            start, end = _frame(rec.get("start"), "start", where), _frame(rec.get("end"), "end", where)
            if end is not None and end <= (start or 0):
                raise DataError(
                    f"{where}: end frame {end} must be greater than start frame {start or 0} "
                    "(end is exclusive; leave it empty or write -1 for 'to the end')"
                )
            rows.append(
                ManifestRow(
                    path=path,
                    label=_cell(rec.get("label")),
                    signer=_cell(rec.get("signer")),
                    split=_cell(rec.get("split")),
                    start=start,
                    end=end,
                    extra={k: rec[k].strip() for k in extras},
                )
            )
            lines.append(line)
    except csv.Error as e:
        raise DataError(f"malformed CSV near line {reader.line_num}: {e}", source) from None
    return rows, lines
