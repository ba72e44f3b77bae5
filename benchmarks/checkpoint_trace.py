"""What ``signssl evaluate retrieval --checkpoint RUN`` goes through to reach the weights.

    python benchmarks/checkpoint_trace.py [--root CHECKOUT] [--keep DIR]

Makes a tiny synthetic pose set and a 2-step SL-FPN run (``--config tiny``), then runs
``signssl evaluate retrieval --checkpoint RUN --data MANIFEST`` in-process under
``sys.setprofile`` until the first call of ``safetensors.torch.load_file`` (the weights),
and prints:

* calls: Python function calls into ``signssl`` modules until then, the distinct
  functions and the distinct modules;
* climbs: calls from a module of a lower layer into one of a higher layer (layers of
  ``docs/architecture.md``, by first-level package: ``cli`` top, ``utils`` bottom);
* reads of the run's ``config.json`` / ``config.yaml`` (any ``open`` of those names);
* path resolutions: calls of ``signssl`` functions whose name says they find a run or
  model folder (``resolve``, ``run_dir``, ``model_dir``, ``find_``).

``--root`` runs the same on another checkout (e.g. an older commit, for a before /
after comparison): the trace then runs in a subprocess with that checkout first on
``sys.path``.  Nothing here is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

#: first-level package -> layer (higher imports lower; docs/architecture.md)
LAYERS = {
    "__main__": 12, "cli": 11, "serve": 10, "studies": 9, "engine": 8, "eval": 7,
    "store": 6, "recipes": 5, "methods": 5, "models": 4, "losses": 4, "extract": 3,
    "synth": 3, "data": 2, "priors": 1.5, "io": 1.5, "pose": 1, "optim": 1,
    "progress": 1, "distributed": 1, "constants": 1, "__init__": 0.5, "utils": 0,
    "errors": 0,
}
RESOLVE_WORDS = ("resolve", "run_dir", "model_dir", "find_")


class Stop(Exception):
    """Raised by the profiler at the weights."""


def module_of(frame: FrameType, pkg_dir: str) -> str | None:
    """``signssl.a.b`` for a frame of a file under ``pkg_dir``, else None."""
    path = frame.f_code.co_filename
    if not path.startswith(pkg_dir):
        return None
    rel = Path(path[len(pkg_dir):].lstrip(os.sep)).with_suffix("")
    return ".".join(("signssl", *rel.parts))


def layer(module: str) -> float:
    parts = module.split(".")
    return LAYERS.get(parts[1] if len(parts) > 1 else "__init__", 0.5)


def make_run(work: Path) -> tuple[Path, Path]:
    """A tiny synthetic set and a 2-step SL-FPN run made with the checkout's own CLI."""
    from signssl.cli.main import main

    data, run = work / "data", work / "run"
    for argv in (
        ["synth", "--out", str(data), "--classes", "4", "--signers", "4", "--reps", "1",
         "--frames", "24", "--seed", "0"],
        ["pretrain", "--method", "sl_fpn", "--config", "tiny", "--data",
         str(data / "manifest.csv"), "--out", str(run), "--set", "trainer.max_steps=2",
         "--set", "data.batch_size=4", "--no-progress"],
    ):
        try:
            main(argv)
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise
    return run, data / "manifest.csv"


def trace(run: Path, manifest: Path, out: Path) -> dict[str, Any]:
    """Profile ``evaluate retrieval --checkpoint`` up to ``load_file``."""
    import signssl
    from signssl.cli.main import main

    pkg_dir = str(Path(signssl.__file__).resolve().parent)
    calls: list[str] = []
    climbs: Counter[tuple[str, str]] = Counter()
    resolves: Counter[str] = Counter()
    reads: Counter[str] = Counter()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if code.co_name == "load_file" and code.co_filename.endswith(
            os.path.join("safetensors", "torch.py")
        ):
            raise Stop
        mod = module_of(frame, pkg_dir)
        if mod is None:
            return
        calls.append(f"{mod}.{code.co_qualname}")
        if any(w in code.co_name for w in RESOLVE_WORDS):
            resolves[f"{mod}.{code.co_name}"] += 1
        caller = frame.f_back
        while caller is not None and module_of(caller, pkg_dir) is None:
            caller = caller.f_back
        if caller is not None:
            src = module_of(caller, pkg_dir)
            if src is not None and layer(mod) > layer(src):
                climbs[(src, mod)] += 1

    counting = [True]

    def audit(event: str, args: tuple[Any, ...]) -> None:  # every file open, C-level too
        if counting[0] and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            name = os.path.basename(os.fsdecode(args[0]))
            if name in ("config.json", "config.yaml"):
                reads[name] += 1

    sys.addaudithook(audit)  # an audit hook cannot be removed: `counting` switches it off
    argv = ["evaluate", "retrieval", "--checkpoint", str(run), "--data", str(manifest),
            "-o", str(out)]
    sys.setprofile(profile)
    reached = False
    try:
        main(argv)
    except Stop:
        reached = True
    except SystemExit:
        pass
    finally:
        sys.setprofile(None)
        counting[0] = False
    return {
        "reached_weights": reached,
        "calls": len(calls),
        "functions": len(set(calls)),
        "modules": len({c.rsplit(".", 1)[0].split(".<")[0] for c in calls}),
        "climbs": sum(climbs.values()),
        "climb_edges": sorted(f"{a} -> {b}" for a, b in climbs),
        "config_reads": dict(reads),
        "path_resolutions": sum(resolves.values()),
        "resolvers": dict(resolves),
    }


def print_report(r: dict[str, Any]) -> None:
    """Print one report of :func:`trace`."""
    print(f"reached the weights: {r['reached_weights']}")
    print(f"calls into signssl: {r['calls']} ({r['functions']} distinct functions, "
          f"{r['modules']} modules)")
    print(f"climbs to a higher layer: {r['climbs']} ({len(r['climb_edges'])} module pairs)")
    for edge in r["climb_edges"]:
        print(f"  {edge}")
    print(f"config.json / config.yaml opened: {r['config_reads'] or 0}")
    print(f"path resolutions: {r['path_resolutions']} {r['resolvers']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, help="another checkout to trace instead")
    parser.add_argument("--keep", type=Path, help="folder for the data and run (kept)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    if args.root is not None:
        env = dict(os.environ, PYTHONPATH=str(args.root.resolve()))
        cmd = [sys.executable, str(Path(__file__).resolve())]
        cmd += ["--keep", str(args.keep)] if args.keep else []
        sys.exit(subprocess.run(cmd + (["--json"] if args.json else []), env=env).returncode)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        run, manifest = make_run(work)
        report = trace(run, manifest, work / "eval")
    import signssl

    print(f"checkout: {Path(signssl.__file__).resolve().parent.parent}")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
