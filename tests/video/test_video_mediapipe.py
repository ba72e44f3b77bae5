"""Real MediaPipe Holistic on a clip made from a photo of a person (scikit-image's
``astronaut``).  Runs in the ``[mediapipe]`` environment: ``bash .ci/mediapipe.sh``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.mediapipe
mp = pytest.importorskip("mediapipe")
skdata = pytest.importorskip("skimage.data")

from signssl.extract import extract_poses, extract_video  # noqa: E402
from signssl.extract.holistic import HolisticEstimator  # noqa: E402
from signssl.io import read_pose  # noqa: E402
from signssl.io.video import write_video  # noqa: E402

SHIFT = 4  # pixels the camera pans per frame
FRAMES = 10


def photo_clip(path: Path, frames: int = FRAMES, shift: int = SHIFT, flip: bool = False) -> Path:
    """The photo seen by a camera panning right by ``shift`` px a frame (edges repeated)."""
    img = skdata.astronaut()  # (512, 512, 3) uint8: a person, head and shoulders
    if flip:
        img = img[:, ::-1].copy()
    pad = shift * frames
    wide = np.pad(img, ((0, 0), (0, pad), (0, 0)), mode="edge")
    clip = np.stack([wide[:, k * shift:k * shift + img.shape[1]] for k in range(frames)])
    return write_video(path, clip, fps=25, crf=18)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return photo_clip(tmp_path_factory.mktemp("mp") / "astronaut.mp4")


@pytest.fixture(scope="module")
def estimator() -> HolisticEstimator:
    est = HolisticEstimator(model_complexity=1)
    yield est
    est.close()


def test_holistic_finds_the_body(clip: Path, estimator: HolisticEstimator) -> None:
    seq = extract_video(clip, estimator)
    assert seq.layout.name == "holistic_world" and seq.num_frames == FRAMES and seq.fps == 25
    lay = seq.layout
    nose, ls, rs = (lay.index(f"body.{j}") for j in ("nose", "left_shoulder", "right_shoulder"))
    conf = seq.conf
    assert (conf[:, [nose, ls, rs]] > 0.9).all()  # found, and visible, in every frame
    x, y = seq.xyz[..., 0], seq.xyz[..., 1]
    body = lay.part_slice("body")
    upper = [nose, ls, rs]
    assert (x[:, upper] > 0).all() and (x[:, upper] < 512).all()
    assert (y[:, upper] > 0).all() and (y[:, upper] < 512).all()
    assert (y[:, nose] < y[:, ls]).all() and (y[:, nose] < y[:, rs]).all()  # head above
    assert (x[:, ls] > x[:, nose]).all() and (x[:, nose] > x[:, rs]).all()  # facing the camera
    assert ((x[:, ls] - x[:, rs]) > 0.3 * 512).all()  # shoulders span a third of the frame
    # the face is found, around the nose
    face = lay.part_slice("face")
    assert (conf[:, face] == 1).all()
    fx, fy = x[:, face], y[:, face]
    assert ((fx.min(1) < x[:, nose]) & (x[:, nose] < fx.max(1))).all()
    assert ((fy.min(1) < y[:, nose]) & (y[:, nose] < fy.max(1))).all()
    # the camera pans right, so the person moves left by SHIFT px a frame
    slope = np.polyfit(np.arange(FRAMES), x[:, nose], 1)[0]
    assert slope == pytest.approx(-SHIFT, rel=0.3)
    # world landmarks are metres: shoulder width of an adult
    wl, wr = lay.index("body_world.left_shoulder"), lay.index("body_world.right_shoulder")
    width = np.linalg.norm(seq.xyz[:, wl] - seq.xyz[:, wr], axis=-1)
    assert ((width > 0.2) & (width < 0.6)).all()
    assert (conf[:, body] >= 0).all() and (conf <= 1).all()


def test_reset_between_videos(tmp_path: Path, clip: Path, estimator: HolisticEstimator) -> None:
    """After another video, the estimator gives what a fresh one gives (within 1 px)."""
    other = photo_clip(tmp_path / "other.mp4", frames=4, flip=True)
    extract_video(other, estimator)
    after_other = extract_video(clip, estimator)
    fresh_est = HolisticEstimator()
    fresh = extract_video(clip, fresh_est)
    fresh_est.close()
    body = after_other.layout.part_slice("body")
    np.testing.assert_allclose(after_other.xyz[:, body, :2], fresh.xyz[:, body, :2], atol=1.0)


def test_extract_poses_job_and_refined_face(tmp_path: Path) -> None:
    for k in range(3):
        photo_clip(tmp_path / "in" / f"c{k}.mp4", frames=3 + k, flip=k == 1)
    one = extract_poses(tmp_path / "in", tmp_path / "one", progress=False)
    two = extract_poses(tmp_path / "in", tmp_path / "two", workers=2, progress=False)
    assert one.extracted == two.extracted == 3 and one.failed == two.failed == 0
    for k in range(3):
        a, b = read_pose(tmp_path / "one" / f"c{k}.pose"), read_pose(tmp_path / "two" / f"c{k}.pose")
        assert a.layout.name == "holistic_world" and a.num_frames == 3 + k
        np.testing.assert_allclose(a.xyz, b.xyz, atol=1.0)
    iris = extract_poses(tmp_path / "in", tmp_path / "iris", progress=False,
                         estimator_kwargs={"refine_face": True})
    seq = read_pose(tmp_path / "iris" / "c0.pose")
    assert iris.extracted == 3 and seq.layout.name == "holistic_iris_world"
    assert (seq.part("face")[1] == 1).all()  # 478 points, irises included


def test_serve_extracts_the_poses_of_a_video_query(tmp_path: Path, clip: Path) -> None:
    """A video sent to a pose dictionary's server is read as `extract-poses` reads it, then
    embedded exactly as `signssl retrieve` embeds that pose file."""
    from signssl.cli.main import main
    from signssl.eval.query import QueryEncoder
    from signssl.eval.retrieval import Dictionary
    from signssl.io import write_pose
    from signssl.serve.upload import QueryRunner
    from signssl.synth import generate_dataset

    manifest = generate_dataset(tmp_path / "set", classes=2, signers=2, reps=1, frames=16,
                                progress=False)  # fmt: skip
    out = tmp_path / "d.safetensors"
    with pytest.raises(SystemExit) as done:
        main(["dictionary", "build", "--baseline", "raw-keypoints", "--data", str(manifest),
              "-o", str(out)])  # fmt: skip
    assert done.value.code in (0, None)
    info = Dictionary.load(out).info
    runner = QueryRunner(QueryEncoder(info))
    try:
        with clip.open("rb") as f:
            query = runner.run(f, max_bytes=50 * 2**20)
    finally:
        runner.close()
    assert query.pose is not None and query.pose.num_frames == FRAMES
    ref = QueryEncoder(info).embed(write_pose(query.pose, tmp_path / "q.pose")).features[:1]
    np.testing.assert_allclose(query.embedding, ref, rtol=1e-6, atol=1e-6)
