"""The names ``signssl.engine`` hands out are the documented objects, not modules."""

from __future__ import annotations

import subprocess
import sys


def test_engine_names_are_functions_in_a_fresh_interpreter() -> None:
    """``from signssl.engine import pretrain`` gives the function (a submodule of the
    same name would shadow it), before and after the training modules are imported."""
    code = (
        "import inspect\n"
        "from signssl.engine import fit, pretrain\n"
        "import signssl.engine.pretraining, signssl.engine.run\n"
        "from signssl.engine import pretrain as again\n"
        "print(all(inspect.isfunction(f) for f in (fit, pretrain, again)), pretrain is again)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"], out.stderr
