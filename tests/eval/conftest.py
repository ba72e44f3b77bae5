"""Fixtures of the evaluation tests."""

from __future__ import annotations

from typing import Any

import pytest
from eval_toys import TINY_MODEL, SyntheticPoses, TinyEncoder

from signssl.models import registry as model_registry


@pytest.fixture
def tiny_model(monkeypatch: pytest.MonkeyPatch) -> str:
    """Register :class:`TinyEncoder` as ``eval_tiny_encoder`` for one test only."""

    def eval_tiny_encoder(**kw: Any) -> TinyEncoder:
        return TinyEncoder(**kw)

    model_registry._import_all()
    monkeypatch.setitem(model_registry._MODELS, TINY_MODEL, eval_tiny_encoder)
    return TINY_MODEL


@pytest.fixture
def make_dataset():
    return SyntheticPoses
