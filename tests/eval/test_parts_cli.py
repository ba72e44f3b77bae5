"""``--part I/N`` on ``embed`` and ``priors``: the parts merged by ``signssl manifest merge``
equal the unsplit run (same rows in the same order, bit-equal arrays)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from eval_toys import run_cli

from signssl.data.parts import part_path
from signssl.synth import generate_dataset


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """7 rows: 6 pose clips (3 classes x 2 signers) and a frame range of the first one."""
    from dataclasses import replace

    from signssl.data import Manifest

    root = tmp_path_factory.mktemp("synth")
    m = Manifest.read(generate_dataset(root, classes=3, signers=2, reps=1, frames=16,
                                       video=False, progress=False))
    Manifest([*m, replace(m[0], start=2, end=12)], m.root).write(root / "rows.csv")
    return root / "rows.csv"


def _npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "info"}


def _load(path: Path) -> dict[str, np.ndarray]:
    return _npz(path) if path.suffix == ".npz" else {"": np.load(path)}


def _parts_merge_like_whole(capsys: pytest.CaptureFixture[str], argv: list, out_option: str,
                            whole: Path, split: Path, listing: str, n: int, suffix: str) -> int:
    """Run ``argv`` into ``whole``, then as parts ``1..n`` (in reverse) into ``split``; merge the
    part listings: same listing text and bit-equal per-row files.  Returns the file count."""
    assert run_cli(capsys, *argv, out_option, whole)[0] == 0
    for i in range(n, 0, -1):
        code, _, err = run_cli(capsys, *argv, out_option, split, "--part", f"{i}/{n}")
        assert code == 0, err
    assert not (split / listing).exists()  # each part wrote its own listing
    parts = [part_path(split / listing, (i, n)) for i in range(1, n + 1)]
    assert run_cli(capsys, "manifest", "merge", split / listing, *parts)[0] == 0
    assert (split / listing).read_text() == (whole / listing).read_text()
    files = sorted(p.relative_to(whole) for p in whole.rglob(f"*{suffix}"))
    assert files == sorted(p.relative_to(split) for p in split.rglob(f"*{suffix}"))
    for rel in files:
        a, b = _load(whole / rel), _load(split / rel)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(b[key], a[key])
    return len(files)


@pytest.mark.parametrize("encoder", [["--baseline", "raw-keypoints"],
                                     ["--baseline", "random-init", "--model", "pose_transformer_test"]])
def test_embed_parts_merge_to_the_unsplit_features(synth: Path, tmp_path: Path, encoder: list[str],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    common = ["embed", *encoder, "--data", synth, "--batch-size", "4"]
    assert run_cli(capsys, *common, "-o", tmp_path / "all.npz")[0] == 0
    n = 3
    for i in range(1, n + 1):
        code, _, err = run_cli(capsys, *common, "-o", tmp_path / "f.npz", "--part", f"{i}/{n}")
        assert code == 0, err
    parts = [part_path(tmp_path / "f.npz", (i, n)) for i in (3, 1, 2)]  # any order
    code, out, err = run_cli(capsys, "manifest", "merge", tmp_path / "f.npz", *parts)
    assert code == 0 and "3 parts" in out, err
    want, got = _npz(tmp_path / "all.npz"), _npz(tmp_path / "f.npz")
    assert want.keys() == got.keys() and len(want["paths"]) == 7
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])  # bit-equal, same row order


def test_embed_part_checks(synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from signssl.data import Manifest

    m = Manifest.read(synth)
    three = Manifest(m.rows[:3], m.root).write(synth.parent / "three.csv").source
    common = ["embed", "--baseline", "raw-keypoints", "--data", three]
    outs = [run_cli(capsys, *common, "-o", tmp_path / "f.npz", "--part", f"{i}/4") for i in range(1, 5)]
    assert [code for code, _, _ in outs] == [0] * 4
    assert "no row of this part to embed" in outs[-1][1]  # more parts than rows: the last is empty
    parts = [part_path(tmp_path / "f.npz", (i, 4)) for i in range(1, 5)]
    assert run_cli(capsys, "manifest", "merge", tmp_path / "m.npz", *parts)[0] == 0
    assert list(_npz(tmp_path / "m.npz")["paths"]) == [str(m.resolve(r)) for r in m.rows[:3]]
    code, _, err = run_cli(capsys, "manifest", "merge", tmp_path / "m.npz", *parts[:2], parts[3])
    assert code == 2 and "part(s) 3 of 4 missing" in err
    code, _, err = run_cli(capsys, *common, "-o", tmp_path / "g.npz", "--part", "4/3")
    assert code == 2 and "--part 4/3" in err and "Traceback" not in err


def test_embed_per_file_parts_share_one_folder(synth: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["embed", "--baseline", "raw-keypoints", "--data", synth.parent / "manifest.csv"]
    # (the 6 whole clips: --per-file refuses segments)
    assert _parts_merge_like_whole(capsys, argv, "--per-file", tmp_path / "whole",
                                   tmp_path / "split", "manifest.csv", 3, ".npy") == 6


def test_priors_parts_merge_to_the_unsplit_index(synth: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["priors", "--data", synth]
    assert _parts_merge_like_whole(capsys, argv, "--out", tmp_path / "whole", tmp_path / "split",
                                   "index.csv", 3, ".npz") == 7
    assert len((tmp_path / "whole" / "index.csv").read_text().splitlines()) == 8


@pytest.fixture(scope="module")
def pose_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An exported ``pose_transformer_test`` encoder (random weights)."""
    import torch

    from signssl.models import create_model
    from signssl.store.model import export_model

    run = tmp_path_factory.mktemp("pose_run")
    torch.manual_seed(0)
    export_model(create_model("pose_transformer_test"), run / "model", "pose_transformer_test", {},
                 layout="masa49", dims=2, normalize="shoulders", max_frames=64)
    return run


def test_extract_features_parts_merge_to_the_unsplit_index(
    synth: Path, pose_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["extract-features", "--checkpoint", pose_run, "--data", synth, "--window", "4"]
    assert _parts_merge_like_whole(capsys, argv, "--out", tmp_path / "whole", tmp_path / "split",
                                   "index.csv", 2, ".npy") == 7


_HOLD_PART_LOCK = """
import sys, time
from signssl.utils import folder_lock
with folder_lock(sys.argv[1], "priors job", sys.argv[2]):
    print("locked", flush=True)
    time.sleep(600)
"""


def test_a_running_part_locks_out_only_itself(synth: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from signssl.data.priors import precompute_priors
    from signssl.errors import FolderInUseError
    from signssl.utils import LOCK_FILE

    out = tmp_path / "priors"
    lock = part_path(LOCK_FILE, (1, 3)).name  # part 1 of 3 runs elsewhere
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_PART_LOCK, str(out), lock],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderInUseError, match=f"pid {holder.pid}"):
            precompute_priors(synth, out, part=(1, 3), progress=False)
        report = precompute_priors(synth, out, part=(2, 3), progress=False)  # another part runs
        assert report.computed == 2 and (out / "index.part2of3.csv").is_file()
    finally:
        holder.kill()
        holder.wait()
