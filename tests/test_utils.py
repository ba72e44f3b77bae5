"""``signssl.utils``: strict JSON (non-finite floats as ``null``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from signssl.utils import json_float, json_floats, json_ready, save_json


def strict_loads(text: str) -> object:
    """``json.loads`` that rejects ``NaN`` / ``Infinity`` like strict parsers do."""

    def reject(token: str) -> object:
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=reject)


def test_save_json_writes_null_for_every_non_finite_float(tmp_path: Path) -> None:
    obj = {
        "nan": float("nan"),
        "list": [1.5, float("inf"), np.float32("-inf"), np.float64("nan"), 2],
        "nested": ({"array": np.array([1.0, np.nan]), "ok": np.float64(2.0)},),
        "int": np.int64(3),
        "path": Path("x") / "y",
        "text": "NaN",
    }
    save_json(tmp_path / "a.json", obj)
    assert strict_loads((tmp_path / "a.json").read_text(encoding="utf-8")) == {
        "nan": None,
        "list": [1.5, None, None, None, 2],
        "nested": [{"array": [1.0, None], "ok": 2.0}],
        "int": 3,
        "path": str(Path("x") / "y"),
        "text": "NaN",
    }


def test_save_json_still_refuses_unknown_types(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        save_json(tmp_path / "a.json", {"x": object()})
    assert not (tmp_path / "a.json").exists()


def test_json_ready_leaves_finite_values_and_reads_back_as_nan() -> None:
    assert json_ready({"a": 1.0, "b": True, "c": None}) == {"a": 1.0, "b": True, "c": None}
    assert np.isnan(json_float(None)) and json_float(None, 0.0) == 0.0 and json_float(2) == 2.0
    back = json_floats({"a": None, "b": 0.5})
    assert np.isnan(back["a"]) and back["b"] == 0.5
