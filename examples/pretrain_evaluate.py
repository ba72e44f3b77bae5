"""Pretrain a pose encoder on generated signs, then evaluate it by dictionary retrieval.

    python examples/pretrain_evaluate.py --out runs/example --epochs 20

Generates a small synthetic vocabulary (signer-independent train/test split), pretrains
the ``tiny`` profile of a recipe on the training clips without labels, and ranks the
test signers' clips against the training clips as a dictionary; a random-init copy of
the same encoder is the baseline.  Prints the metrics as JSON and writes them to
``OUT/retrieval.json``.  The defaults take well under a minute on one CPU core and are
too small to learn much: raise ``--epochs``, ``--classes`` and ``--signers`` for that.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import signssl
from signssl.data import Manifest, PoseDataset
from signssl.engine import load_config, pretrain
from signssl.eval import extract_features, retrieval_eval
from signssl.models.baselines import get_baseline
from signssl.synth import generate_dataset

KEYS = ("top1_per_instance", "top5_per_instance", "mrr", "dcg")


def retrieval(encoder, manifest: Manifest, cfg) -> dict[str, float]:
    """Retrieval metrics of ``encoder``: test clips queried against the training clips."""
    classes = manifest.labels()
    feats = {}
    for split in ("train", "test"):
        clips = PoseDataset(manifest, layout=cfg.data.layout, dims=cfg.data.dims,
                            normalize=cfg.data.normalize, split=split, classes=classes)
        feats[split] = extract_features(encoder, clips, progress=False,
                                        max_frames=cfg.data.max_frames)
    metrics = retrieval_eval(feats["train"], feats["test"]).metrics
    return {k: round(float(metrics[k]), 4) for k in KEYS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    parser.add_argument("--method", default="sl_fpn", help="a registered recipe")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--classes", type=int, default=5)
    parser.add_argument("--signers", type=int, default=4)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="signssl-example-"))

    manifest_path = generate_dataset(out / "data", classes=args.classes, signers=args.signers,
                                     reps=2, frames=32, seed=0, progress=False)
    cfg = load_config(args.method, "tiny", [f"trainer.max_epochs={args.epochs}",
                                            "data.batch_size=16", "trainer.seed=0"])
    run = pretrain(cfg, manifest_path, out / "run", progress=False)

    manifest = Manifest.read(manifest_path)
    random_init = get_baseline("random-init", model=cfg.model.name, seed=0, **cfg.model.kwargs)
    result = {
        "method": args.method,
        "steps": run.global_step,
        "final_loss": run.final_loss,
        "pretrained": retrieval(signssl.load_model(out / "run"), manifest, cfg),
        "random_init": retrieval(random_init, manifest, cfg),
    }
    (out / "retrieval.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"model: {run.model_dir}  metrics: {out / 'retrieval.json'}")


if __name__ == "__main__":
    main()
