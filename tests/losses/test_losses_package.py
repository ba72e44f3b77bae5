"""``signssl.losses`` exports every loss file's public classes and functions without an
import list: checked against the files' own top-level definitions, read with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import signssl.losses as losses


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
    }


def test_every_loss_file_is_exported() -> None:
    files = sorted(p for p in Path(losses.__file__).parent.glob("*.py") if p.stem != "__init__")
    assert len(files) >= 10
    for path in files:
        names = _defined(path)
        assert names, path
        for name in names:
            assert name in losses.__all__, f"{name} of {path.name} is not exported"
            assert getattr(losses, name).__module__ == f"signssl.losses.{path.stem}"
    assert len(losses.__all__) == len(set(losses.__all__))


def test_package_level_imports() -> None:
    from signssl.losses import NTXentLoss, covariance_loss, nt_xent_loss, variance_loss

    assert NTXentLoss.__module__ == "signssl.losses.nt_xent" and callable(nt_xent_loss)
    assert variance_loss.__module__ == covariance_loss.__module__
