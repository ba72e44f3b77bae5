"""WLASL subsets: WLASL100/300/1000/2000 = the first N glosses of WLASL_v0.3.json."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from signssl.data import manifest_from_wlasl
from signssl.errors import DataError

SPLITS = ("train", "val", "test")


def _fake_wlasl(tmp_path: Path, num_glosses: int = 2000) -> tuple[Path, Path, list[list[dict]]]:
    """``num_glosses`` glosses; gloss i < 300 has ``1 + (i % 3)`` instances, the others
    one; splits cycle train/val/test; instance k has a video file unless ``k % 7 == 0``,
    and beyond gloss 300 only every 5th gloss has one (fewer files to write)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    entries, instances = [], []
    k = 0
    for i in range(num_glosses):
        insts = []
        for _ in range(1 + i % 3 if i < 300 else 1):
            vid = f"{k:05d}"
            insts.append({"video_id": vid, "signer_id": k % 50, "split": SPLITS[k % 3],
                          "frame_start": 1, "frame_end": -1, "fps": 25})
            if k % 7 and (i < 300 or i % 5 == 0):
                (videos / f"{vid}.mp4").write_bytes(b"")
            k += 1
        entries.append({"gloss": f"g{i:04d}", "instances": insts})
        instances.append(insts)
    js = tmp_path / "WLASL_v0.3.json"
    js.write_text(json.dumps(entries))
    return js, videos, instances


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[list[dict]]]:
    return _fake_wlasl(tmp_path_factory.mktemp("wlasl"))


@pytest.mark.parametrize("n", [100, 300, 1000, 2000])
def test_wlasl_subset_keeps_the_first_n_glosses_and_official_splits(fake, n: int) -> None:
    js, videos, instances = fake
    m, report = manifest_from_wlasl(js, videos_dir=videos, subset=n)
    # independent count with a naive loop over the fake
    present = {p.stem for p in videos.iterdir()}
    kept = [(f"g{i:04d}", x["split"]) for i, insts in enumerate(instances[:n])
            for x in insts if x["video_id"] in present]
    missing = sum(1 for insts in instances[:n] for x in insts if x["video_id"] not in present)
    outside = sum(len(insts) for insts in instances[n:])
    # every gloss of the subset with a file, none after it (g0000's only video is absent)
    assert m.labels() == sorted({g for g, _ in kept})
    assert max(m.labels()) < f"g{n:04d}" and "g0000" not in m.labels()
    assert Counter(r.split for r in m) == Counter(s for _, s in kept)
    assert [(r.label, r.split) for r in m] == kept
    assert report.counts() == {"kept": len(kept), "missing file": missing}
    assert report.notes == ({f"instances of glosses outside WLASL{n} (not read)": outside}
                            if outside else {})


def test_wlasl_subset_hand_counts(fake) -> None:
    js, videos, _ = fake
    m, report = manifest_from_wlasl(js, videos_dir=videos, subset=100)
    # 100 glosses with 1,2,3,1,2,3,... instances: 34*1 + 33*2 + 33*3 = 199 instances,
    # ids 0..198, of which 0,7,...,196 (29 ids) have no file
    assert report.kept == 199 - 29 == len(m)
    # 300 glosses x 2 instances on average + 1700 glosses x 1 = 2300 instances in all
    assert report.notes["instances of glosses outside WLASL100 (not read)"] == 2300 - 199


def test_wlasl_subset_errors(tmp_path: Path) -> None:
    js, videos, _ = _fake_wlasl(tmp_path, num_glosses=150)
    with pytest.raises(DataError, match=r"WLASL_v0.3.json: holds 150 glosses, fewer than WLASL300"):
        manifest_from_wlasl(js, videos_dir=videos, subset=300)
    with pytest.raises(DataError, match=r"must be one of \[100, 300, 1000, 2000\], got 500"):
        manifest_from_wlasl(js, videos_dir=videos, subset=500)
    m, report = manifest_from_wlasl(js, videos_dir=videos, subset=100)
    assert max(m.labels()) == "g0099" and report.kept == 199 - 29
