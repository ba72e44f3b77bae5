"""Manifests that would give silently wrong results: repeated rows, misspelt split names,
a "signer-independent" split of rows without signer ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from signssl.cli.main import main
from signssl.data import (
    Manifest,
    ManifestRow,
    check_split_names,
    drop_duplicates,
    select_split,
    signer_independent_split,
    split_warnings,
)
from signssl.errors import DataError

HEADER = "path,label,signer,split,start,end\n"


def _csv(tmp_path: Path, body: str, name: str = "m.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + body, encoding="utf-8")
    return p


def _cli(capsys, *argv: object) -> tuple[int, str]:
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())


# ----------------------------------------------------------------------------- duplicates

def test_repeated_rows_are_refused_with_lines_and_the_fix(tmp_path: Path) -> None:
    p = _csv(tmp_path, "a/0.pose,a,,,,\nb/0.pose,b,,,2,9\n./a/0.pose,a,,,0,\nb/0.pose,b,,,2,9\n"
                       "b/0.pose,b,,,3,9\n")
    with pytest.raises(DataError) as e:
        Manifest.read(p)
    msg = str(e.value)
    # ./a/0.pose from frame 0 to the end is a/0.pose; b/0.pose [3, 9) is another clip
    assert str(p) in msg and "2 row(s) repeat an earlier row" in msg
    assert "line 4 repeats line 2 (./a/0.pose)" in msg and f"signssl manifest dedupe {p}" in msg
    m = Manifest.read(p, duplicates="drop")
    assert [(r.path, r.start) for r in m] == [("a/0.pose", None), ("b/0.pose", 2), ("b/0.pose", 3)]
    assert m.dropped_duplicates == 2


def test_a_repeat_with_another_label_is_refused_even_when_dropping(tmp_path: Path) -> None:
    p = _csv(tmp_path, "a/0.pose,a,s1,train,,\na/0.pose,b,s1,train,,\n")
    for mode in ("error", "drop"):
        with pytest.raises(DataError, match=r"line 3 \(a/0.pose: label 'b', split 'train'\) "
                                            r"repeats line 2 \(label 'a'"):
            Manifest.read(p, duplicates=mode)


def test_drop_duplicates_keeps_the_first_of_each() -> None:
    rows = [ManifestRow("x", "a"), ManifestRow("y", "a"), ManifestRow("x", "a", start=0)]
    kept, pairs = drop_duplicates(Manifest(rows))
    assert [r.path for r in kept] == ["x", "y"] and pairs == [(rows[2], rows[0])]


def test_cli_check_refuses_and_dedupe_fixes(tmp_path: Path, capsys) -> None:
    p = _csv(tmp_path, "".join(f"c{i}.pose,g,,,,\n" for i in range(3)) + "c1.pose,g,,,,\n")
    code, out = _cli(capsys, "manifest", "check", p)
    assert code == 2 and "1 row(s) repeat an earlier row" in out and "line 5 repeats line 3" in out
    code, out = _cli(capsys, "manifest", "dedupe", p, "-o", tmp_path / "clean.csv")
    assert code == 0 and "3 rows; dropped 1 repeated row(s)" in out
    assert len(Manifest.read(tmp_path / "clean.csv")) == 3


# ----------------------------------------------------------------------------- split names

def test_unknown_split_names_are_an_error_where_a_split_selects_rows(tmp_path: Path) -> None:
    p = _csv(tmp_path, "a.pose,a,,trian,,\nb.pose,a,,trian,,\nc.pose,a,,tset,,\n")
    m = Manifest.read(p)  # reading keeps them ...
    assert m.unknown_splits() == {"trian": 2, "tset": 1}
    with pytest.raises(DataError) as e:  # ... selecting by split refuses them
        select_split(m, "train", "pretraining (data.split)")
    msg = str(e.value)
    assert str(p) in msg and "'trian' (2 rows), 'tset' (1 rows)" in msg
    assert "known: train, val, test" in msg and "pretraining (data.split)" in msg
    check_split_names(m, ["trian", "tset"])  # names the caller selects by are fine


def test_select_split(tmp_path: Path) -> None:
    none = Manifest.read(_csv(tmp_path, "a.pose,a,,,,\n", "none.csv"))
    assert select_split(none, "train") is None  # no split column: every row
    both = Manifest.read(_csv(tmp_path, "a.pose,a,,train,,\nb.pose,a,,test,,\n", "both.csv"))
    assert select_split(both, "train") == "train" and select_split(both, None) is None
    only_test = Manifest.read(_csv(tmp_path, "a.pose,a,,test,,\n", "t.csv"))
    with pytest.raises(DataError, match=r"has splits \['test'\] but no 'train' rows"):
        select_split(only_test, "train")  # every row would train on the test clips


def test_pretrain_refuses_misspelt_splits(tmp_path: Path) -> None:
    from signssl.engine.config import load_config
    from signssl.engine.datasets import build_dataset

    p = _csv(tmp_path, "a.pose,a,,trian,,\nc.pose,a,,tset,,\n")
    cfg = load_config("sl_fpn", "tiny")
    with pytest.raises(DataError, match=r"unknown split name\(s\) 'trian' \(1 rows\), 'tset'"):
        build_dataset(cfg, p, progress=False)


def test_evaluate_and_info_name_unknown_splits(tmp_path: Path, capsys) -> None:
    p = _csv(tmp_path, "a.pose,a,,train,,\nb.pose,a,,test,,\nc.pose,a,,tset,,\n")
    code, out = _cli(capsys, "evaluate", "retrieval", "--baseline", "raw-keypoints", "--data", p,
                     "-o", tmp_path / "ev")
    assert code == 2 and "unknown split name(s) 'tset' (1 rows)" in out
    code, out = _cli(capsys, "manifest", "info", p)
    assert code == 0 and "unknown split name(s) {'tset': 1}" in out


# ----------------------------------------------------------------------------- signer ids

def test_split_without_signer_ids_warns() -> None:
    rows = [ManifestRow(f"{i}.pose", "ab"[i % 2]) for i in range(8)]
    none = signer_independent_split(Manifest(rows), 0.25, seed=0)
    (w,) = split_warnings(none)
    assert "NOT signer-independent" in w
    some = [ManifestRow(r.path, r.label, "s1" if i < 4 else None) for i, r in enumerate(rows)]
    (w,) = split_warnings(Manifest(some))
    assert w.startswith("4 of 8 rows have no signer id") and "only for the 1 known signers" in w
    known = [ManifestRow(r.path, r.label, f"s{i}") for i, r in enumerate(rows)]
    assert split_warnings(Manifest(known)) == []


def test_cli_split_prints_the_warning(tmp_path: Path, capsys) -> None:
    p = _csv(tmp_path, "".join(f"{i}.pose,{'ab'[i % 2]},,,,\n" for i in range(8)))
    code, out = _cli(capsys, "manifest", "split", p, "-o", tmp_path / "s.csv")
    assert code == 0 and "warning: no row of" in out and "NOT signer-independent" in out
