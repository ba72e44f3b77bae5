"""A tiny synthetic sign set and its dictionary for the ``signssl serve`` tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from signssl.cli.main import main
from signssl.data import Manifest


@dataclass(frozen=True)
class ToyDictionary:
    """A dictionary of the synthetic set's train clips and its held-out test clips."""

    path: Path
    manifest: Path
    #: gloss -> a test clip (a signer the dictionary does not hold)
    queries: dict[str, Path]


def build_toy_dictionary(root: Path) -> ToyDictionary:
    """3 synthetic signs by 3 signers, 2 repetitions; the dictionary (raw hand keypoints,
    built by ``signssl dictionary build``) holds the train split."""
    from signssl.synth import generate_dataset

    manifest = generate_dataset(root / "set", classes=3, signers=3, reps=2, frames=24,
                                test_fraction=0.34, minimal_pair_rate=0.0, progress=False)
    out = root / "dictionary.safetensors"
    try:
        main(["dictionary", "build", "--baseline", "raw-hand-keypoints", "--data", str(manifest),
              "--split", "train", "-o", str(out)])
    except SystemExit as e:
        assert e.code in (0, None), f"dictionary build failed with {e.code}"
    m = Manifest.read(manifest)
    queries = {r.label: Path(m.resolve(r)) for r in m if r.split == "test"}
    return ToyDictionary(out, manifest, queries)


def build_video_dictionary(root: Path) -> ToyDictionary:
    """3 synthetic signs by 2 signers as 32 x 32 videos of 16 frames; the dictionary (the
    random-init ``cnn_test`` video encoder, built by ``signssl dictionary build``) holds
    every clip, and each gloss's query is one of its own videos."""
    from signssl.synth import generate_dataset

    manifest = generate_dataset(root / "set", classes=3, signers=2, reps=1, frames=16, video=True,
                                size=32, minimal_pair_rate=0.0, progress=False)
    out = root / "videos.safetensors"
    try:
        main(["dictionary", "build", "--baseline", "random-init", "--model", "cnn_test",
              "--data", str(manifest), "-o", str(out)])
    except SystemExit as e:
        assert e.code in (0, None), f"dictionary build failed with {e.code}"
    m = Manifest.read(manifest)
    queries = {r.label: root / "set" / str(r.extra["video"]) for r in m}
    return ToyDictionary(out, manifest, queries)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(toy: ToyDictionary, allow_edits: bool = False,
          token: str | None = None) -> Iterator[tuple[str, ToyDictionary]]:  # fmt: skip
    """``toy``'s dictionary served by uvicorn in a thread, until the generator closes."""
    import uvicorn

    from signssl.serve.app import ServeConfig, create_app

    port = _free_port()
    app = create_app(ServeConfig(toy.path, allow_edits=allow_edits, token=token))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the server did not start"
    yield f"http://127.0.0.1:{port}", toy
    srv.should_exit = True
    thread.join(timeout=10)
