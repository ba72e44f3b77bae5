"""--part I/N: every row in exactly one part, order kept, bad text rejected."""

from __future__ import annotations

import pytest

from signssl.data.parts import (
    merge_csv_parts,
    parse_part,
    part_of_path,
    part_path,
    part_suffix,
    select_part,
)
from signssl.errors import ConfigError, DataError


@pytest.mark.parametrize("n_rows", [0, 1, 2, 5, 7, 10, 23])
@pytest.mark.parametrize("n_parts", [1, 2, 3, 4, 7, 11, 30])
def test_parts_cover_every_row_once_in_order(n_rows: int, n_parts: int) -> None:
    rows = [f"r{k}" for k in range(n_rows)]
    parts = [select_part(rows, (i, n_parts)) for i in range(1, n_parts + 1)]
    # naive reference: concatenation in part order is the input; so union == all, disjoint
    joined = [r for p in parts for r in p]
    assert joined == rows
    assert len(set(joined)) == len(joined)
    # balanced: sizes differ by at most one, larger parts first
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert sizes == sorted(sizes, reverse=True)


def test_select_part_hand_values() -> None:
    rows = list(range(7))
    assert [select_part(rows, (i, 3)) for i in (1, 2, 3)] == [[0, 1, 2], [3, 4], [5, 6]]
    assert [select_part(rows[:2], (i, 4)) for i in (1, 2, 3, 4)] == [[0], [1], [], []]
    assert select_part(rows, (1, 1)) == rows


@pytest.mark.parametrize("text,want", [("1/1", (1, 1)), ("2/3", (2, 3)), (" 8 / 8 ", (8, 8))])
def test_parse_part(text: str, want: tuple[int, int]) -> None:
    assert parse_part(text) == want


@pytest.mark.parametrize("text", ["", "3", "0/3", "4/3", "1/0", "a/b", "-1/3", "1/3/4", "1.5/3"])
def test_parse_part_rejects_bad_text(text: str) -> None:
    with pytest.raises(ConfigError, match="--part"):
        parse_part(text)


def test_select_part_rejects_out_of_range() -> None:
    with pytest.raises(ConfigError):
        select_part([1, 2], (3, 2))


def test_part_suffix() -> None:
    assert part_suffix((1, 1)) == ""
    assert part_suffix((2, 8)) == ".part2of8"


# ----------------------------------------------------------------------------- merging CSV parts

def _write_parts(tmp_path, rows: list[str], n: int, header: str = "path,label") -> list:
    paths = []
    for i in range(1, n + 1):
        p = part_path(tmp_path / "index.csv", (i, n))
        p.write_text("\n".join([header, *select_part(rows, (i, n))]) + "\n")
        paths.append(p)
    return paths


def test_merge_csv_parts_gives_the_unsplit_text_in_any_order(tmp_path) -> None:
    rows = [f"a/{k}.pose,g{k % 3}" for k in range(11)]
    paths = _write_parts(tmp_path, rows, 12)  # N > rows: one empty part
    assert merge_csv_parts(tmp_path / "index.csv", list(reversed(paths))) == 11
    assert (tmp_path / "index.csv").read_text() == "\n".join(["path,label", *rows]) + "\n"


def test_merge_csv_parts_refuses_missing_repeated_and_overlapping_parts(tmp_path) -> None:
    rows = [f"a/{k}.pose,g" for k in range(6)]
    paths = _write_parts(tmp_path, rows, 3)
    out = tmp_path / "index.csv"
    with pytest.raises(DataError, match="part.s. 2 of 3 missing"):
        merge_csv_parts(out, [paths[0], paths[2]])
    with pytest.raises(DataError, match="given twice"):
        merge_csv_parts(out, [*paths, paths[1]])
    paths[2].write_text("path,label\na/1.pose,g\n")  # a row of part 1 again
    with pytest.raises(DataError, match="also in"):
        merge_csv_parts(out, paths)
    with pytest.raises(DataError, match="not a part file"):
        merge_csv_parts(out, [tmp_path / "index.csv"])
    assert not out.exists()


def test_part_path_and_back() -> None:
    assert part_path("o/manifest.csv", (3, 8)).as_posix() == "o/manifest.part3of8.csv"
    assert part_path("o/manifest.csv", (1, 1)).as_posix() == "o/manifest.csv"
    assert part_of_path(part_path("feats.npz", (10, 12))) == (10, 12)
