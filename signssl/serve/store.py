"""The dictionary a server holds: a search snapshot, entry ids, and edits written safely.

Every entry has a stable id, kept in the file's ``id`` metadata column (a dictionary
built by `signssl dictionary build` has none until its first edit: its entries are then
numbered ``e0, e1, ...`` in file order, the ids the server showed before).  Edits build a
new :class:`~signssl.eval.retrieval.Dictionary`, write it with
:meth:`~signssl.eval.retrieval.Dictionary.save` (a temporary file next to the dictionary,
then ``os.replace``: the file is the old one or the new one, never half-written) and swap
in a new :class:`~signssl.serve.index.SearchIndex`; one lock serialises the edits.
Keypoints of an added entry are written to ``<dictionary>.entries/<id>.pose`` (a name the
server chooses) for its preview.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from signssl.errors import ConfigError, DataError, SignSSLError
from signssl.eval.retrieval import Dictionary
from signssl.io import write_pose
from signssl.serve.index import SearchIndex

#: metadata columns an entry can carry besides its gloss
ENTRY_FIELDS: tuple[str, ...] = ("id", "language", "source", "signer", "path")


class EntryNotFound(DataError):
    """No entry has this id."""


class WriteError(SignSSLError):
    """The dictionary file could not be written (it is left as it was)."""


@dataclass(frozen=True)
class Snapshot:
    """What one search reads: the index and the entry columns, swapped together."""

    index: SearchIndex
    ids: tuple[str, ...]
    labels: tuple[str, ...]
    metadata: dict[str, list[str]]

    def entry(self, i: int) -> dict[str, str]:
        """Entry ``i`` as ``{"id", "gloss", <metadata>...}``."""
        row = {"id": self.ids[i], "gloss": self.labels[i]}
        for key in ENTRY_FIELDS[1:]:
            row[key] = self.metadata.get(key, [""] * len(self.ids))[i]
        return row


def _snapshot(d: Dictionary) -> Snapshot:
    ids = d.metadata.get("id") or [f"e{i}" for i in range(len(d))]
    return Snapshot(SearchIndex.from_dictionary(d), tuple(ids), tuple(d.labels),
                    {k: list(v) for k, v in d.metadata.items()})


class DictionaryStore:
    """A dictionary file loaded for searching and, when allowed, editing.

    Args:
        path: the dictionary file (``signssl dictionary build``).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._dictionary = Dictionary.load(self.path)
        self.snapshot = _snapshot(self._dictionary)
        self._lock = threading.Lock()

    @property
    def info(self) -> dict[str, Any]:
        return self._dictionary.info

    @property
    def entries_dir(self) -> Path:
        """Where the keypoints of added entries are written."""
        return self.path.with_name(self.path.name + ".entries")

    def entries(self) -> list[dict[str, str]]:
        snap = self.snapshot
        return [snap.entry(i) for i in range(len(snap.ids))]

    def add(self, embedding: np.ndarray, gloss: str, language: str = "", source: str = "",
            pose: Any = None) -> dict[str, str]:
        """Append one entry (embedding ``(D,)`` or ``(1, D)``) and write the file; ``pose``
        (a :class:`~signssl.pose.sequence.PoseSequence`) is kept for the entry's preview."""
        gloss = gloss.strip()
        if not gloss:
            raise ConfigError("give the entry a gloss")
        emb = np.asarray(embedding, dtype=np.float32).reshape(1, -1)  # (1, D)
        with self._lock:
            d = self._dictionary
            if emb.shape[1] != d.dim:
                raise ConfigError(f"the new entry has dimension {emb.shape[1]} but the "
                                  f"dictionary has {d.dim}")
            new_id = uuid.uuid4().hex[:12]
            path = ""
            if pose is not None:
                path = str(write_pose(pose, self.entries_dir / f"{new_id}.pose"))
            values = {"id": new_id, "language": language.strip(), "source": source.strip(),
                      "signer": "", "path": path}
            meta = self._columns(d)
            for key, col in meta.items():
                col.append(values.get(key, ""))
            try:
                self._write(Dictionary(np.concatenate([d.embeddings.numpy(), emb]),
                                       [*d.labels, gloss], meta, d.info))
            except BaseException:
                if path:
                    Path(path).unlink(missing_ok=True)  # no keypoints without their entry
                raise
            return self.snapshot.entry(len(self.snapshot.ids) - 1)

    def remove(self, entry_id: str) -> dict[str, str]:
        """Remove the entry with this id and write the file; returns the removed entry."""
        with self._lock:
            d, snap = self._dictionary, self.snapshot
            try:
                i = snap.ids.index(entry_id)
            except ValueError:
                raise EntryNotFound(f"no entry has id {entry_id!r}; list them with GET /entries") from None
            if len(d) == 1:
                raise ConfigError("cannot remove the last entry: a dictionary needs at least one")
            removed = snap.entry(i)
            keep = np.arange(len(d)) != i
            meta = {k: [v for v, ok in zip(col, keep, strict=True) if ok]
                    for k, col in self._columns(d).items()}
            labels = [lab for lab, ok in zip(d.labels, keep, strict=True) if ok]
            self._write(Dictionary(d.embeddings.numpy()[keep], labels, meta, d.info))
        own = Path(removed["path"]) if removed["path"] else None
        if own is not None and own.parent == self.entries_dir:
            own.unlink(missing_ok=True)  # keypoints this server wrote for the entry
        return removed

    def export_bytes(self) -> bytes:
        """The dictionary file as it is on disk (read under the edit lock)."""
        with self._lock:
            return self.path.read_bytes()

    def _columns(self, d: Dictionary) -> dict[str, list[str]]:
        """Copies of the metadata columns with every entry field present and ids filled."""
        m = len(d)
        meta = {k: list(v) for k, v in d.metadata.items()}
        meta["id"] = list(self.snapshot.ids)
        for key in ENTRY_FIELDS:
            meta.setdefault(key, [""] * m)
        return meta

    def _write(self, d: Dictionary) -> None:
        """Write ``d`` atomically, then make it the one searched (caller holds the lock)."""
        try:
            d.save(self.path)
        except OSError as e:
            raise WriteError(f"{self.path}: could not write the dictionary ({e}); it is "
                             "unchanged and so are the entries served") from None
        self._dictionary = d
        self.snapshot = _snapshot(d)
