"""Linear probe: a linear classifier on frozen, standardised features.

Features are standardised with the training set's mean and standard deviation, then a
multinomial logistic regression is fitted either with scikit-learn (``backend="sklearn"``,
L-BFGS, L2 penalty ``1 / C``) or in torch (``backend="torch"``: one ``nn.Linear`` trained
with AdamW and full-batch or mini-batch cross-entropy; for large feature sets).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch
from torch import nn

from signssl.errors import ConfigError
from signssl.eval.features import Features
from signssl.eval.results import EvalResult, make_result
from signssl.optim import check_optim_values


def standardize(train: np.ndarray, *others: np.ndarray, eps: float = 1e-6) -> list[np.ndarray]:
    """``(x - mean) / std`` with the statistics of ``train`` ``(N, D)``, applied to all.

    Constant dimensions (std < eps) are only centred.
    """
    mu = train.mean(axis=0, keepdims=True)  # (1, D)
    sd = train.std(axis=0, keepdims=True)
    sd = np.where(sd < eps, 1.0, sd)
    return [((x - mu) / sd).astype(np.float32) for x in (train, *others)]


def _fit_sklearn(x: np.ndarray, y: np.ndarray, c: float, max_iter: int, seed: int) -> np.ndarray:
    """Weights ``(L, D+1)`` (bias last) of an L2 logistic regression."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    coef, bias = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # binary: sklearn keeps one row for class 1
        coef, bias = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-bias / 2, bias / 2])
    full = np.zeros((int(y.max()) + 1, x.shape[1] + 1), dtype=np.float32)
    full[clf.classes_, :-1], full[clf.classes_, -1] = coef, bias
    return full


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads (tiny problems are slower with more: sync overhead)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_torch(x: np.ndarray, y: np.ndarray, num_classes: int, epochs: int, lr: float,
               weight_decay: float, batch_size: int, seed: int) -> np.ndarray:
    """Weights ``(L, D+1)`` of a linear layer trained with AdamW on cross-entropy."""
    small = x.size * num_classes < 2_000_000  # one thread wins below this size
    with _threads(1) if small else contextlib.nullcontext():
        return _train_linear(x, y, num_classes, epochs, lr, weight_decay, batch_size, seed)


def _train_linear(x: np.ndarray, y: np.ndarray, num_classes: int, epochs: int, lr: float,
                  weight_decay: float, batch_size: int, seed: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    layer = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():  # seeded initialisation, independent of the global RNG
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.01)
        layer.bias.zero_()
    opt = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    n = xt.shape[0]
    bs = n if batch_size <= 0 else min(batch_size, n)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            loss = nn.functional.cross_entropy(layer(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    with torch.no_grad():
        return torch.cat([layer.weight, layer.bias[:, None]], dim=1).numpy()


def linear_probe(
    train: Features,
    test: Features,
    backend: Literal["sklearn", "torch"] = "sklearn",
    c: float = 1.0,
    max_iter: int = 1000,
    epochs: int = 100,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    batch_size: int = 0,
    seed: int = 0,
) -> EvalResult:
    """Fit on ``train``, score ``test``; classes = the training labels.

    Args:
        backend: ``sklearn`` (``c`` = inverse L2 strength, ``max_iter``) or ``torch``
            (``epochs``, ``lr``, ``weight_decay``, ``batch_size`` 0 = full batch).
        seed: seeds the solver / initialisation and batch order.
    Returns:
        :class:`EvalResult` (``protocol="linear"``) with scores = logits ``(N, L)``.
    """
    if backend == "torch":
        check_optim_values(lr=lr, weight_decay=weight_decay)
    train = train.require_labeled("linear-probe training set")
    test = test.require_labeled("linear-probe test set")
    classes = train.classes()
    if len(classes) < 2:
        raise ConfigError(f"a linear probe needs at least 2 training classes, got {classes}")
    index = {c_: i for i, c_ in enumerate(classes)}
    y = np.array([index[lab] for lab in train.labels], dtype=np.int64)
    x_tr, x_te = standardize(train.features, test.features)
    if backend == "sklearn":
        w = _fit_sklearn(x_tr, y, c, max_iter, seed)
    elif backend == "torch":
        w = _fit_torch(x_tr, y, len(classes), epochs, lr, weight_decay, batch_size, seed)
    else:
        raise ConfigError(f"unknown linear-probe backend {backend!r}; known: sklearn, torch")
    logits = x_te @ w[:, :-1].T + w[:, -1]  # (N, D) @ (D, L) + (L,) -> (N, L)
    return make_result(
        "linear", logits, classes, test.labels, test.paths, test.signers,
        extra={"n_train": len(train)},
    )
