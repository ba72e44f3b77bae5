"""Priors files: save/load round trip, checks, concatenation."""

from __future__ import annotations

import numpy as np
import pytest

from signssl.errors import ConfigError, DataError
from signssl.priors import PRIOR_NAMES, PRIOR_SPECS, Priors, compute_priors


def test_save_load_round_trip(clip, tmp_path) -> None:
    pri = compute_priors(clip)
    path = pri.save(tmp_path / "sub" / "clip.priors")  # any suffix, folders created
    assert [p.name for p in path.parent.iterdir()] == ["clip.priors"]  # no temporary left
    back = Priors.load(path)
    assert back.frame == pri.frame and back.num_frames == clip.num_frames
    for name in PRIOR_NAMES:
        np.testing.assert_array_equal(back.values[name], pri.values[name])
        np.testing.assert_array_equal(back.valid[name], pri.valid[name])
        assert back.valid[name].dtype == bool


def test_load_rejects_wrong_files(clip, tmp_path) -> None:
    arrays = compute_priors(clip).to_arrays()
    np.savez(tmp_path / "short.npz", **{k: v for k, v in arrays.items() if k != "body_kp"})
    with pytest.raises(DataError, match="no 'body_kp' prior"):
        Priors.load(tmp_path / "short.npz")
    arrays["activity"] = arrays["activity"][:, :1]
    np.savez(tmp_path / "narrow.npz", **arrays)
    with pytest.raises(DataError, match="'activity' has shape"):
        Priors.load(tmp_path / "narrow.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a priors"):
        Priors.load(tmp_path / "junk.npz")
    with pytest.raises(DataError, match="does not exist"):
        Priors.load(tmp_path / "missing.npz")


def test_concat(clip) -> None:
    pri = compute_priors(clip)
    v, m = pri.concat()
    assert v.shape == m.shape == (clip.num_frames, sum(s.dim for s in PRIOR_SPECS.values()))
    v2, m2 = pri.concat(("activity", "hand_kp_left"))
    np.testing.assert_array_equal(v2[:, :2], pri.values["activity"])
    np.testing.assert_array_equal(m2[:, 2:], pri.valid["hand_kp_left"])
    with pytest.raises(ConfigError, match="unknown prior"):
        pri.concat(("hand_kp",))
