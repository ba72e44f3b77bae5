"""Repeated, seeded evaluation runs with mean ± 95 % CI (SSL-SLR §2.4 protocols).

One call runs a protocol once per seed and summarises every metric over the seeds
(t-distribution confidence interval, :func:`~signssl.eval.metrics.mean_confidence_interval`).
A seed changes, where they apply: the held-out split (data without a test split), the
labelled subset (``label_fraction``, the semi-supervised protocol) and the training
randomness (linear probe, fine-tuning).

Test data, in order of precedence:

1. ``test`` given (a test split, or another manifest: *transfer*) -> used as is;
2. ``holdout`` > 0, or a protocol that trains (linear, finetune), or a ``label_fraction``
   -> a seeded stratified split holding out ``holdout`` (default 0.25) of each class;
3. otherwise (retrieval, k-NN) -> leave-one-out over all labelled samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from signssl.errors import ConfigError
from signssl.eval.features import Features, dataset_label_names
from signssl.eval.knn import choose_k, knn_eval
from signssl.eval.linear_probe import linear_probe
from signssl.eval.metrics import summarize_runs
from signssl.eval.results import EvalResult
from signssl.eval.retrieval import retrieval_eval
from signssl.eval.splits import stratified_fraction, stratified_split
from signssl.models.base import Encoder

PROTOCOLS: tuple[str, ...] = ("retrieval", "knn", "linear", "finetune")
DEFAULT_HOLDOUT = 0.25


@dataclass
class EvalRuns:
    """The runs of one protocol over seeds.

    Attributes:
        protocol: the protocol name.
        seeds: the seeds, in run order.
        runs: per-seed flat metrics.
        summary: ``{metric: {"mean", "ci95", "values"}}`` over the seeds.
        result: the first seed's :class:`EvalResult` (for plots and examples).
        config: how the runs were made (split mode, label fraction, settings).
    """

    protocol: str
    seeds: list[int]
    runs: list[dict[str, float]]
    summary: dict[str, dict[str, Any]]
    result: EvalResult
    config: dict[str, Any] = field(default_factory=dict)

    def metrics_json(self) -> dict[str, Any]:
        """``metrics.json`` content: metric means at the top level, then the details."""
        out: dict[str, Any] = {name: s["mean"] for name, s in self.summary.items()}
        out["ci95"] = {name: s["ci95"] for name, s in self.summary.items()}
        out["protocol"] = self.protocol
        out["seeds"] = self.seeds
        out["per_seed"] = self.runs
        out["per_signer"] = self.result.per_signer
        out["config"] = self.config
        return out


def _split_mode(protocol: str, has_test: bool, holdout: float | None,
                label_fraction: float | None) -> tuple[str, float]:
    if has_test:
        return "given", 0.0
    if holdout is not None and holdout < 0:
        raise ConfigError(f"holdout must be >= 0, got {holdout}")
    if holdout:
        return "holdout", float(holdout)
    if protocol in ("linear", "finetune") or label_fraction is not None:
        if holdout == 0:
            raise ConfigError(
                f"{protocol}{' with a label fraction' if label_fraction else ''} needs a test "
                "set: give a split column, another manifest, or holdout > 0"
            )
        return "holdout", DEFAULT_HOLDOUT
    return "leave-one-out", 0.0


def _describe(mode: str, frac: float) -> str:
    if mode == "given":
        return "given test set"
    if mode == "holdout":
        return f"seeded stratified holdout of {frac:g} per class"
    return "leave-one-out over all labelled samples"


def evaluate_features(
    protocol: str,
    train: Features,
    test: Features | None = None,
    seeds: Sequence[int] = (0,),
    label_fraction: float | None = None,
    holdout: float | None = None,
    **kwargs: Any,
) -> EvalRuns:
    """Run a frozen-feature protocol (``retrieval``, ``knn``, ``linear``) once per seed.

    Args:
        train: training / dictionary features (labelled rows are used).
        test: test / query features; ``None`` -> holdout or leave-one-out (module doc).
        label_fraction: keep this stratified share of the training labels per seed.
        holdout: test share per class when ``test`` is None (0 forces leave-one-out).
        **kwargs: passed to the protocol (e.g. ``k``, ``aggregate``, ``backend``).
    """
    if protocol not in ("retrieval", "knn", "linear"):
        raise ConfigError(f"unknown frozen-feature protocol {protocol!r}; known: retrieval, knn, linear")
    if not seeds:
        raise ConfigError("give at least one seed")
    train = train.require_labeled(f"{protocol} training data")
    mode, frac = _split_mode(protocol, test is not None, holdout, label_fraction)
    runs: list[dict[str, float]] = []
    first: EvalResult | None = None
    k_choices: list[str] = []
    for seed in seeds:
        tr, te = train, test
        if mode == "holdout":
            i_tr, i_te = stratified_split(train.labels, frac, seed)
            tr, te = train.subset(i_tr), train.subset(i_te)
        if label_fraction is not None:
            tr = tr.subset(stratified_fraction(tr.labels, label_fraction, seed))
        if protocol == "retrieval":
            res = retrieval_eval(tr, te, **kwargs)
        elif protocol == "knn":
            options = dict(kwargs)
            if options.get("k") is None:  # from the class sizes of this seed's references
                options["k"], why = choose_k(tr.labels, te is None)
                k_choices.append(why)
            res = knn_eval(tr, te, **options)
        else:
            res = linear_probe(tr, te, seed=seed, **kwargs)  # type: ignore[arg-type]
        runs.append({**res.metrics, "seed": int(seed)})
        first = first or res
    assert first is not None
    config = {"split": _describe(mode, frac), "label_fraction": label_fraction, **kwargs}
    if k_choices:
        config["k"] = "auto"
        config["k_choice"] = "; ".join(dict.fromkeys(k_choices))
    return EvalRuns(protocol, [int(s) for s in seeds], runs,
                    _without_seed(summarize_runs(runs)), first, config)


def _without_seed(summary: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in summary.items() if k != "seed"}


def dataset_labels(dataset: Any) -> list[str]:
    """Label name of every sample of a pose dataset (``""`` = unlabeled), in order."""
    names = dataset_label_names(dataset)
    out = []
    for i in range(len(dataset)):
        lab = int(dataset[i]["label"])
        out.append("" if lab < 0 else (names[lab] if names is not None else str(lab)))
    return out


def evaluate_finetune(
    make_encoder: Callable[[int], Encoder],
    train_data: torch.utils.data.Dataset,
    test_data: torch.utils.data.Dataset | None = None,
    seeds: Sequence[int] = (0,),
    label_fraction: float | None = None,
    holdout: float | None = None,
    **kwargs: Any,
) -> EvalRuns:
    """Fine-tune a fresh encoder per seed (``make_encoder(seed)``) and score the test data.

    Splitting and label fractions follow the module docstring, on dataset indices.
    ``kwargs`` go to :func:`~signssl.eval.finetune.finetune_eval`.
    """
    from torch.utils.data import Subset

    from signssl.eval.finetune import finetune_eval  # lazy: Lightning

    if not seeds:
        raise ConfigError("give at least one seed")
    mode, frac = _split_mode("finetune", test_data is not None, holdout, label_fraction)
    labels = np.asarray(dataset_labels(train_data))
    labelled = np.nonzero(labels != "")[0]
    classes = kwargs.pop("classes", None) or sorted(set(labels[labelled].tolist()))
    runs: list[dict[str, float]] = []
    first: EvalResult | None = None
    for seed in seeds:
        tr_idx, te_data = labelled, test_data
        if mode == "holdout":
            a, b = stratified_split(labels[labelled], frac, seed)
            tr_idx, te_data = labelled[a], Subset(train_data, labelled[b].tolist())
        if label_fraction is not None:
            tr_idx = tr_idx[stratified_fraction(labels[tr_idx], label_fraction, seed)]
        res = finetune_eval(make_encoder(seed), Subset(train_data, tr_idx.tolist()), te_data,
                       classes=classes, seed=seed, **kwargs)
        runs.append({**res.metrics, "seed": int(seed)})
        first = first or res
    assert first is not None
    config = {"split": _describe(mode, frac), "label_fraction": label_fraction, **kwargs}
    return EvalRuns("finetune", [int(s) for s in seeds], runs,
                    _without_seed(summarize_runs(runs)), first, config)
