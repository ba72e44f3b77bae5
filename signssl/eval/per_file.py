"""One ``.npy`` embedding per clip (``signssl embed --per-file DIR``), resumable.

``DIR`` mirrors the manifest's relative paths (``a/b.pose`` -> ``DIR/a/b.npy``), each file
written atomically; ``DIR/manifest.csv`` lists the embeddings with the rows' labels,
signers and splits, and ``DIR/encoder.json`` the encoder that made them.  A second run on
``DIR`` embeds only the clips that have no ``.npy`` yet, and refuses another encoder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from signssl.data import Manifest, ManifestRow
from signssl.data.parts import WHOLE, part_path, select_part
from signssl.errors import ConfigError, DataError
from signssl.eval.pipeline import embed_manifest
from signssl.eval.shard_data import refuse_shards
from signssl.utils import atomic_path, read_json_file, remove_stale_temporaries, save_json

MANIFEST_FILE = "manifest.csv"
ENCODER_FILE = "encoder.json"


@dataclass(frozen=True)
class PerFileResult:
    """``written`` new files, ``kept`` files of an earlier run, ``listed`` rows of the
    manifest CSV, and the skipped-samples report of the new embeddings (``None`` when
    nothing was left to embed)."""

    written: int
    kept: int
    listed: int
    report: Any
    manifest: Path | None = None  # the manifest CSV written


def embedding_name(row: ManifestRow, root: Path | None) -> Path:
    """``a/b.npy`` for row path ``a/b.pose`` (absolute paths inside ``root`` made relative);
    :class:`DataError` for a path outside the manifest's folder."""
    path = Path(row.path)
    if path.is_absolute() and root is not None and path.is_relative_to(root):
        path = path.relative_to(root)
    if path.is_absolute() or ".." in path.parts:
        raise DataError("--per-file mirrors paths relative to the manifest's folder; move the "
                        "sample under it or write one features file with --out", row.path)
    return path.with_suffix(".npy")


def embed_per_file(spec: Any, manifest: str | Path, out_dir: str | Path, split: str | None = None,
                   part: tuple[int, int] = WHOLE, **embed_options: Any) -> PerFileResult:
    """Embed the rows of ``manifest`` (of ``split``) into ``out_dir``, one ``.npy`` each.

    ``part``: only these rows of the manifest (:mod:`signssl.data.parts`), listed in
    ``manifest.partIofN.csv``.  ``embed_options`` go to
    :func:`signssl.eval.pipeline.embed_manifest` (batch size, pooling, window, stride).
    """
    refuse_shards("--per-file mirrors the manifest's paths: pass the manifest, or write one "
                  "features file with --out", manifest)
    out_dir = Path(out_dir)
    m = Manifest.read(manifest)
    rows = [r for r in select_part(m.rows, part) if split is None or r.split == split]
    names = _names(rows, m.root)
    _claim(out_dir, spec.to_info())
    remove_stale_temporaries(out_dir / n for n in names.values())
    todo = [r for r in rows if not (out_dir / names[_key(m, r)]).is_file()]
    written, report = 0, None
    if todo:
        feats, report = embed_manifest(spec, Manifest(todo, m.root, m.source), None, **embed_options)
        by_path = {str(Path(p)): i for i, p in enumerate(feats.paths)}
        for row in todo:
            i = by_path.get(_key(m, row))
            if i is not None:
                _save(out_dir / names[_key(m, row)], feats.features[i])
                written += 1
    done = [(r, names[_key(m, r)]) for r in rows]
    listed = [replace(r, path=str(name), start=None, end=None) for r, name in done if (out_dir / name).is_file()]
    listing = part_path(out_dir / MANIFEST_FILE, part)
    Manifest(listed, out_dir).write(listing)
    return PerFileResult(written, len(rows) - len(todo), len(listed), report, listing)


def _key(m: Manifest, row: ManifestRow) -> str:
    return str(m.resolve(row))


def _names(rows: list[ManifestRow], root: Path | None) -> dict[str, Path]:
    """Sample path -> ``.npy`` name; rows sharing a file (segments) or a name are refused."""
    m = Manifest(rows, root)
    names: dict[str, Path] = {}
    seen: dict[Path, str] = {}
    for row in rows:
        key, name = _key(m, row), embedding_name(row, root)
        if key in names or name in seen:
            raise DataError(f"two rows would write {name} (segments of one file, or files differing "
                            "only in extension): write one features file with --out instead", row.path)
        names[key], seen[name] = name, key
    return names


def _claim(out_dir: Path, info: dict[str, Any]) -> None:
    """Record the encoder in ``out_dir/encoder.json``; refuse a folder of another encoder."""
    path = out_dir / ENCODER_FILE
    wanted = json.loads(json.dumps(info))
    if path.is_file() and read_json_file(path) != wanted:
        raise ConfigError(f"--per-file {out_dir} holds embeddings of another encoder ({path}); "
                          "choose another folder or delete it")
    save_json(path, wanted)


def _save(path: Path, vector: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(vector, dtype=np.float32))
