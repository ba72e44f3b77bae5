"""Read keypoints stored as flat vectors with a layout of your own, and convert them.

    python examples/custom_layout.py --out runs/layout-example

Many data sets store one flat vector per frame in an order of their own.  This script
describes such an order in a layout YAML file (9 upper-body joints with x, y and a
visibility, then both hands with x, y, z), writes one generated clip in that order as a
``(T, 153)`` ``.npy`` file, reads it back through the layout, converts it by joint name
to the built-in ``masa49`` layout and writes it as a ``.pose`` file.  The same YAML file
works on the command line: ``signssl info CLIP.npy --layout OUT/upper9-hands.yaml``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from signssl.data import Manifest
from signssl.io import read_pose, write_pose
from signssl.pose import load_layout_yaml
from signssl.synth import generate_dataset

LAYOUT_YAML = """\
name: upper9-hands
description: nose, shoulders, elbows, wrists, hips (x, y, visibility); hands (x, y, z)
parts:
  - name: body
    joints: [nose, left_shoulder, right_shoulder, left_elbow, right_elbow,
             left_wrist, right_wrist, left_hip, right_hip]
    values: [x, y, visibility]                          # 9 x 3 = 27
  - {name: left_hand, joints: hand21, values: [x, y, z]}   # 21 x 3 = 63
  - {name: right_hand, joints: hand21, values: [x, y, z]}  # 21 x 3 = 63
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="signssl-layout-"))
    out.mkdir(parents=True, exist_ok=True)

    layout_path = out / "upper9-hands.yaml"
    layout_path.write_text(LAYOUT_YAML)
    layout = load_layout_yaml(layout_path)

    # one generated clip (any pose file would do), re-ordered into the custom layout
    manifest = Manifest.read(generate_dataset(out / "synth", classes=1, signers=1, reps=1,
                                              frames=32, seed=0, progress=False))
    source = read_pose(manifest.resolve(0))
    flat = source.to_layout(layout).to_flat()  # (T, layout.flat_size)
    np.save(out / "clip.npy", flat)

    seq = read_pose(out / "clip.npy", layout=layout_path)  # decoded with the layout
    masa = seq.to_layout("masa49")  # converted by joint name
    write_pose(masa, out / "clip_masa49.pose")
    back = read_pose(out / "clip_masa49.pose")

    wrist = "left_hand.wrist"
    result = {
        "layout": layout.name,
        "values_per_frame": layout.flat_size,
        "frames": seq.num_frames,
        "joints": seq.num_joints,
        "missing_by_part": {k: round(v, 3) for k, v in seq.part_missing_fractions().items()},
        "masa49_joints": back.num_joints,
        "wrist_equal_after_round_trip": bool(
            np.allclose(seq.xyz[:, layout.index(wrist)], back.xyz[:, back.layout.index(wrist)],
                        atol=1e-4)),
    }
    print(json.dumps(result, indent=2))
    print(f"files: {layout_path}, {out / 'clip.npy'}, {out / 'clip_masa49.pose'}")


if __name__ == "__main__":
    main()
