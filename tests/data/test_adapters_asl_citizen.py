"""ASL Citizen: the official splits are user-disjoint and the adapter keeps them so."""

from __future__ import annotations

from pathlib import Path

from signssl.data import manifest_from_asl_citizen, signer_overlap

HEADER = "Participant ID,Video file,Gloss,ASL-LEX Code\n"
#: split -> participants, disjoint as in the release (train 35 / val 6 / test 11 users)
PARTICIPANTS = {"train": ["P1", "P2", "P3"], "val": ["P4"], "test": ["P5", "P6"]}
GLOSSES = ("HOUSE", "DOG", "CAT")


def _fake(tmp_path: Path) -> tuple[Path, Path]:
    splits, videos = tmp_path / "splits", tmp_path / "videos"
    splits.mkdir()
    videos.mkdir()
    for split, users in PARTICIPANTS.items():
        lines = []
        for u in users:
            for g in GLOSSES:
                name = f"{u}-{g}.mp4"
                lines.append(f"{u},{name},{g},X_{g}\n")
                (videos / name).write_bytes(b"")
        (splits / f"{split}.csv").write_text(HEADER + "".join(lines))
    return splits, videos


def test_asl_citizen_signers_are_disjoint_across_splits(tmp_path: Path) -> None:
    splits, videos = _fake(tmp_path)
    m, report = manifest_from_asl_citizen(splits, videos_dir=videos)
    assert report.counts() == {"kept": 6 * 3}
    by_split = {s: sorted({r.signer for r in m if r.split == s}) for s in PARTICIPANTS}
    assert by_split == PARTICIPANTS
    assert signer_overlap(m) == {}
    for s in PARTICIPANTS:
        assert len(m.filter(split=s)) == 3 * len(PARTICIPANTS[s])


def test_a_participant_in_two_split_files_is_visible(tmp_path: Path) -> None:
    splits, videos = _fake(tmp_path)
    (videos / "P1-CAT-b.mp4").write_bytes(b"")
    with (splits / "test.csv").open("a") as f:
        f.write("P1,P1-CAT-b.mp4,CAT,X_CAT\n")  # a train user leaking into test
    m, _ = manifest_from_asl_citizen(splits, videos_dir=videos)
    assert signer_overlap(m) == {"P1": ["test", "train"]}
