"""Manifest CSV: reading, writing, queries and malformed input."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from signssl.data import Manifest, ManifestRow
from signssl.errors import DataError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_read_fills_fields_and_keeps_extra_columns(tmp_path: Path) -> None:
    p = _write(
        tmp_path / "m.csv",
        "path,label,signer,split,start,end,handshape,location\n"
        "a/0,book, s1 ,train,,,B,chest\n"
        "/abs/x.pose,drink,s2,test,12,60,C,\n"
        "c.npz,,,,3,-1,,\n",
    )
    m = Manifest.read(p)
    assert len(m) == 3
    a, b, c = m.rows
    assert a == ManifestRow("a/0", "book", "s1", "train", None, None, {"handshape": "B", "location": "chest"})
    assert (b.start, b.end, b.extra) == (12, 60, {"handshape": "C", "location": ""})
    assert (c.label, c.signer, c.split, c.start, c.end) == (None, None, None, 3, None)  # -1 = to the end
    assert m.root == tmp_path
    assert m.resolve(a) == tmp_path / "a" / "0"
    assert m.resolve(1) == Path("/abs/x.pose")
    assert m.extra_columns() == ["handshape", "location"]


def test_optional_columns_may_be_absent(tmp_path: Path) -> None:
    m = Manifest.read(_write(tmp_path / "m.csv", "label,path\nx,f1.npz\n"))
    assert m.rows == [ManifestRow("f1.npz", "x")]


def test_write_read_round_trip_with_relative_and_absolute_paths(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = [
        ManifestRow("g1/0", "g1", "s1", "train", 2, 9, {"k": "v,with comma"}),
        ManifestRow("g2/a.pose", "g2", None, "test"),
    ]
    m = Manifest(rows, root=data)
    # inside the CSV's folder -> relative; elsewhere -> absolute
    back = Manifest.read(m.write(data / "inside.csv").root / "inside.csv")
    assert [r.path for r in back] == ["g1/0", "g2/a.pose"]
    assert back.rows[0].extra == {"k": "v,with comma"}
    assert [back.resolve(r) for r in back] == [m.resolve(r) for r in m]
    other = tmp_path / "elsewhere" / "m.csv"
    m.write(other)
    back2 = Manifest.read(other)
    assert [r.path for r in back2] == [str(data / "g1" / "0"), str(data / "g2" / "a.pose")]
    assert [(r.label, r.signer, r.split, r.start, r.end) for r in back2] == [
        (r.label, r.signer, r.split, r.start, r.end) for r in rows
    ]
    # a row without an extra column gets an empty cell, read back as ""
    assert [r.extra for r in back2] == [{"k": "v,with comma"}, {"k": ""}]
    # the file is a plain CSV with the standard header first
    with open(other, newline="") as f:
        header = next(csv.reader(f))
    assert header == ["path", "label", "signer", "split", "start", "end", "k"]


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    Manifest([ManifestRow("x.npz")], root=tmp_path).write(tmp_path / "m.csv")
    assert sorted(os.listdir(tmp_path)) == ["m.csv"]


def test_queries_labels_signers_filter(tmp_path: Path) -> None:
    rows = [
        ManifestRow("1", "zebra", "b", "train"),
        ManifestRow("2", "apple", "a", "test"),
        ManifestRow("3", "mango", None, "train"),
        ManifestRow("4", None, "a", "val"),
        ManifestRow("5", "apple", "c", "train"),
    ]
    m = Manifest(rows, tmp_path)
    assert m.labels() == ["apple", "mango", "zebra"]
    assert m.label_to_index() == {"apple": 0, "mango": 1, "zebra": 2}
    assert m.signers() == ["a", "b", "c"]
    assert m.splits() == {"test": 1, "train": 3, "val": 1}
    assert [r.path for r in m.filter(split="train")] == ["1", "3", "5"]
    assert [r.path for r in m.filter(split=["val", "test"])] == ["2", "4"]
    assert [r.path for r in m.filter(split="train", label="apple")] == ["5"]
    assert [r.path for r in m.filter(signer="a")] == ["2", "4"]
    assert len(m.filter(split="nonexistent")) == 0
    assert m.filter(split="train").root == tmp_path
    assert m.label_indices() == [2, 0, 1, -1, 0]


def test_unknown_label_against_a_training_class_list_is_a_clear_error(tmp_path: Path) -> None:
    test = Manifest([ManifestRow("q.npz", "apple"), ManifestRow("r.npz", "kiwi")], tmp_path)
    assert test.label_indices(["apple", "kiwi", "zebra"]) == [0, 1]
    with pytest.raises(DataError, match=r"not in the class list of 2 classes: \['kiwi'\].*r\.npz"):
        test.label_indices(["apple", "zebra"])
    with pytest.raises(DataError, match="repeats"):
        test.label_indices(["apple", "apple"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("label,signer\nx,y\n", "no 'path' column"),
        ("path,label,label\na,b,c\n", "repeated"),
        ("path,label\na,b,c\n", "line 2: 3 cells but the header has 2"),
        ("path,label\na\n", "line 2: 1 cells"),
        ("path,start\na,x\n", "line 2: column 'start' must be a whole frame number, got 'x'"),
        ("path,start,end\na,1,\nb,5,5\n", "line 3: end frame 5 must be greater than start frame 5"),
        ("path,end\na,-3\n", "column 'end' must be >= 0"),
        ("path,label\n,x\n", "line 2: empty path"),
        ('path,label\n"a,b\n', "line"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    p = _write(tmp_path / "bad.csv", text)
    with pytest.raises(DataError, match=message) as e:
        Manifest.read(p)
    assert str(p) in str(e.value)


def test_missing_manifest_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        Manifest.read(tmp_path / "nope.csv")


def test_blank_lines_and_bom_are_tolerated(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_bytes("\ufeffpath,label\r\na,x\r\n\r\nb,y\r\n".encode())
    assert [(r.path, r.label) for r in Manifest.read(p)] == [("a", "x"), ("b", "y")]


def test_row_validation() -> None:
    with pytest.raises(DataError, match="non-empty path"):
        ManifestRow(" ")
    with pytest.raises(DataError, match="start frame must be >= 0"):
        ManifestRow("a", start=-1)
    with pytest.raises(DataError, match="greater than start"):
        ManifestRow("a", start=4, end=2)
    with pytest.raises(DataError, match="reuse standard names"):
        ManifestRow("a", extra={"label": "x"})
