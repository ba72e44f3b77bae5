"""Register a pretraining recipe of your own and train it for a few steps.

    python examples/custom_recipe.py --out runs/recipe-example --steps 6

A recipe is a :class:`signssl.methods.Method` subclass registered under a name: it gets
the encoder and the shared view options (boundary permutation, spatial noise, mirror,
...), builds its heads and returns its loss from ``training_loss``.  The one here is
VICReg-style: two views, a projector, an invariance term plus the library's variance
and covariance losses (docs/methods.md#signrep-variance-covariance).  Once registered,
the training engine, ``create_method`` and the exported model treat it like a built-in
recipe.  Prints the run's summary as JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor

import signssl
from signssl.engine import load_config
from signssl.engine.pretrain import pretrain
from signssl.losses.variance_covariance import covariance_loss, variance_loss
from signssl.methods import Method, list_methods, register_method
from signssl.models.heads import MLPHead
from signssl.synth import generate_dataset


@register_method("vicreg_example")
class VICRegExample(Method):
    """``L = w_inv MSE(z1, z2) + w_var (L_var(z1) + L_var(z2)) / 2 + w_cov (L_cov(z1) +
    L_cov(z2))`` on the projections ``z = g(f(view))`` of two views of each clip."""

    def __init__(self, encoder, proj_dim: int = 64, inv_weight: float = 25.0,
                 var_weight: float = 25.0, cov_weight: float = 1.0, **view_options) -> None:
        super().__init__(encoder, **view_options)
        self.projector = MLPHead([encoder.out_dim, 2 * proj_dim, proj_dim])
        self.weights = (inv_weight, var_weight, cov_weight)

    def training_loss(self, batch) -> dict[str, Tensor]:
        x = self.prepare(batch)
        h1, h2 = self.encode([self.augment(x), self.augment(x)])  # 2 x (B, D)
        z1, z2 = self.projector(h1), self.projector(h2)  # 2 x (B, proj_dim)
        inv = F.mse_loss(z1, z2)
        var = (variance_loss(z1) + variance_loss(z2)) / 2
        cov = covariance_loss(z1) + covariance_loss(z2)
        w_inv, w_var, w_cov = self.weights
        loss = w_inv * inv + w_var * var + w_cov * cov
        return {"loss": loss, "embedding": z1.detach(), "features": h1.detach(),
                "invariance": inv.detach(), "variance": var.detach(), "covariance": cov.detach()}


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
    cfg.method.name = "vicreg_example"
    cfg.method.kwargs = {"proj_dim": 32, "flip_p": 0.5}
    run = pretrain(cfg, manifest, out / "run", progress=False)

    encoder = signssl.load_model(out / "run")
    result = {
        "registered": "vicreg_example" in list_methods(),
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
