"""Register a pretraining recipe of your own and train it for a few steps.

    python examples/custom_recipe.py --out runs/recipe-example --steps 6

A recipe is a :class:`signssl.methods.Method` subclass registered under a name: it gets
the encoder and the shared view options (boundary permutation, spatial noise, mirror,
...), builds its heads and returns its loss from ``training_loss``.  The one here is
Barlow Twins (Zbontar et al. 2021), with its loss written out below: the
cross-correlation of two views' projections is pulled toward the identity matrix.  Once
registered, the training engine, ``create_method`` and the exported model treat it like
a built-in recipe (docs/methods.md lists those).  Prints the run's summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from torch import Tensor

import signssl
from signssl.engine import load_config, pretrain
from signssl.methods import Method, list_methods, register_method
from signssl.models.heads import MLPHead
from signssl.synth import generate_dataset


def barlow_twins_loss(z1: Tensor, z2: Tensor, off_weight: float) -> tuple[Tensor, Tensor]:
    """``Σ_i (1 − C_ii)² + w Σ_{i≠j} C_ij²`` with ``C`` the ``(D, D)`` cross-correlation of
    the batch-standardised ``z1``, ``z2`` ``(B, D)``; also returns the diagonal term."""
    z1 = (z1 - z1.mean(0)) / (z1.std(0) + 1e-6)  # (B, D), each column standardised
    z2 = (z2 - z2.mean(0)) / (z2.std(0) + 1e-6)
    c = z1.T @ z2 / z1.shape[0]  # (D, D)
    on = (1 - c.diagonal()).pow(2).sum()
    off = c.pow(2).sum() - c.diagonal().pow(2).sum()
    return on + off_weight * off, on


@register_method("barlow_example")
class BarlowTwinsExample(Method):
    """Two views of each clip, one projector, :func:`barlow_twins_loss`."""

    def __init__(self, encoder, proj_dim: int = 64, off_weight: float = 5e-3,
                 **view_options) -> None:
        super().__init__(encoder, **view_options)
        self.projector = MLPHead([encoder.out_dim, 2 * proj_dim, proj_dim])
        self.off_weight = off_weight

    def training_loss(self, batch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        h1, h2 = self.encode([self.augment(x), self.augment(x)])  # 2 x (B, D)
        z1, z2 = self.projector(h1), self.projector(h2)  # 2 x (B, proj_dim)
        loss, on_diagonal = barlow_twins_loss(z1, z2, self.off_weight)
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach(),
                "on_diagonal": on_diagonal.detach()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="signssl-recipe-"))

    manifest = generate_dataset(out / "data", classes=4, signers=4, reps=2, frames=32,
                                seed=0, progress=False)
    # the tiny pose setting of a built-in recipe, with this recipe and its options instead
    cfg = load_config("simclr", "tiny", [f"trainer.max_steps={args.steps}",
                                         "trainer.max_epochs=1000", "data.batch_size=8"])
    cfg.method.name = "barlow_example"
    cfg.method.kwargs = {"proj_dim": 32, "flip_p": 0.5}
    run = pretrain(cfg, manifest, out / "run", progress=False)

    encoder = signssl.load_model(out / "run")
    result = {
        "registered": "barlow_example" in list_methods(),
        "steps": run.global_step,
        "final_loss": run.final_loss,
        "collapse_std": run.collapse_std,
        "encoder": type(encoder).__name__,
        "embedding_dim": encoder.out_dim,
        "model_dir": str(run.model_dir),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
