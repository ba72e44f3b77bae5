"""An unbounded synthetic pose source generated on the fly (no files).

Sample ``i`` of :class:`SyntheticPoseDataset` is clip ``(c, s, r)`` with
``c = i % classes``, ``s = (i // classes) % signers``, ``r = i // (classes * signers)``,
generated from the same seed as clip ``(c, s, r)`` of :func:`~signssl.synth.generate_dataset`
(isolated mode, same ``seed``, ``frames``, ``minimal_pair_rate``, ``noise``): the first
``classes * signers * reps`` indices are that data set's clips, and every index after
them is one more repetition.  A sample is a function of ``(seed, i)`` only, so a resumed
run sees the same clips and workers or ranks can split the indices freely.

Each clip is converted to the encoder's ``layout`` and ``dims`` and normalised as
:class:`~signssl.data.PoseDataset` does with a file; labels are not given (SSL).

>>> ds = SyntheticPoseDataset(classes=4, signers=2, frames=16, layout="masa49")
>>> s = ds[5]
>>> s["pose"].xyz.shape, s["label"], s["path"]
((16, 49, 2), -1, 'synth:5')
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from signssl.errors import ConfigError
from signssl.pose.layouts import DEFAULT_LAYOUT, Layout, get_layout
from signssl.pose.normalize import check_normalize_mode, normalize_sequence
from signssl.pose.sequence import PoseSequence
from signssl.synth.config import SynthConfig
from signssl.synth.dataset import derive_seed, sample_signers
from signssl.synth.generate import synthesize
from signssl.synth.phonology import Vocabulary


class SyntheticPoseDataset(Dataset):
    """Synthetic isolated signs made when indexed (module docstring); no ``len()``.

    Args:
        classes, signers: vocabulary size and number of signers.
        frames: frames per clip (>= 8).
        seed: vocabulary, signers and every clip follow from it.
        minimal_pair_rate: see :meth:`~signssl.synth.Vocabulary.sample`.
        noise: scale of all variation and noise (:meth:`SynthConfig.scaled`).
        layout, dims, normalize: what the encoder reads (as :class:`~signssl.data.PoseDataset`).
    Raises:
        ConfigError: an argument out of range.
    """

    def __init__(
        self,
        classes: int = 50,
        signers: int = 12,
        frames: int = 64,
        seed: int = 0,
        minimal_pair_rate: float = 0.6,
        noise: float = 1.0,
        layout: str | Path | Layout | None = DEFAULT_LAYOUT,
        dims: int | None = 2,
        normalize: str | None = "auto",
    ) -> None:
        for name, v, lo in (("classes", classes, 1), ("signers", signers, 1), ("frames", frames, 8)):
            if v < lo:
                raise ConfigError(f"synthetic source: {name} must be >= {lo}, got {v}")
        if not 0.0 <= minimal_pair_rate <= 1.0:
            raise ConfigError(f"synthetic source: minimal_pair_rate must be in [0, 1], got {minimal_pair_rate}")
        if dims not in (None, 2, 3):
            raise ConfigError(f"dims must be 2, 3 or None, got {dims!r}")
        self.classes, self.signers, self.frames, self.seed = classes, signers, frames, seed
        self.config = SynthConfig().scaled(noise) if noise != 1.0 else SynthConfig()
        self.vocabulary = Vocabulary.sample(classes, seed, minimal_pair_rate=minimal_pair_rate)
        self.people = sample_signers(signers, seed, variation=self.config.signer_variation)
        self.layout = get_layout(layout) if layout is not None else None
        self.dims, self.normalize = dims, check_normalize_mode(normalize)
        try:  # fail now, not in the middle of training (e.g. too few frames for a sign)
            self.sequence(0)
        except ConfigError as e:
            raise ConfigError(f"synthetic source: {e}") from None

    def clip_of(self, i: int) -> tuple[int, int, int]:
        """``(class, signer, repetition)`` of sample ``i``."""
        if i < 0:
            raise IndexError(f"synthetic sample index must be >= 0, got {i}")
        c, rest = i % self.classes, i // self.classes
        return c, rest % self.signers, rest // self.signers

    def sequence(self, i: int) -> PoseSequence:
        """Sample ``i`` in the generator's own layout, before conversion."""
        c, s, r = self.clip_of(i)
        seed = derive_seed(self.seed, 1, c, s, r)  # as generate_dataset's clip (c, s, r)
        spec, signer = self.vocabulary.signs[c], self.people[s]
        return synthesize((spec,), signer, seed, self.frames, self.config, source=f"synth:{i}").pose

    def __getitem__(self, i: int) -> dict[str, Any]:
        seq = self.sequence(int(i))
        if self.layout is not None:
            seq = seq.to_layout(self.layout)
        if self.dims is not None:
            seq = seq.with_dims(self.dims)
        seq, _ = normalize_sequence(seq, self.normalize)
        return {
            "pose": replace(seq, source=f"synth:{i}"),
            "label": -1,
            "path": f"synth:{i}",
            "signer": self.people[self.clip_of(int(i))[1]].id,
            "index": int(i),
        }

    def __repr__(self) -> str:
        return (f"SyntheticPoseDataset(classes={self.classes}, signers={self.signers}, "
                f"frames={self.frames}, seed={self.seed})")
