"""Counting what a bulk job kept and what it set aside, by reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ItemReport:
    """Outcome of a bulk job over many items (files, JSON entries, dataset samples).

    Attributes:
        kept: number of items used.
        problems: reason -> list of ``(item, detail)``; ``item`` is usually a path.
        notes: what happened to kept items, counted by kind (e.g. ``"normalised by hands
            (no shoulders)"``), shown after the skips.
    """

    kept: int = 0
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)

    def add(self, reason: str, item: str, detail: str = "") -> None:
        """Record one item set aside for ``reason``."""
        self.problems.setdefault(reason, []).append((str(item), detail))

    def note(self, kind: str, n: int = 1) -> None:
        """Count ``n`` kept items to which ``kind`` happened."""
        self.notes[kind] = self.notes.get(kind, 0) + n

    def most_common(self) -> tuple[str, int, str] | None:
        """``(reason, count, first detail)`` of the most frequent problem; ``None`` if none."""
        if not self.problems:
            return None
        reason, items = max(self.problems.items(), key=lambda kv: len(kv[1]))
        return reason, len(items), items[0][1] or items[0][0]

    def count(self, reason: str) -> int:
        return len(self.problems.get(reason, []))

    def items(self, reason: str) -> list[str]:
        """The items set aside for ``reason``."""
        return [item for item, _ in self.problems.get(reason, [])]

    @property
    def num_problems(self) -> int:
        return sum(len(v) for v in self.problems.values())

    @property
    def total(self) -> int:
        return self.kept + self.num_problems

    def counts(self) -> dict[str, int]:
        """``{"kept": n, <reason>: n, ...}``."""
        return {"kept": self.kept, **{k: len(v) for k, v in self.problems.items()}}

    def to_dict(self) -> dict:
        """JSON-ready form (for ``signssl.utils.save_json``)."""
        out: dict = {
            "counts": self.counts(),
            "problems": {
                k: [{"item": i, "detail": d} for i, d in v] for k, v in self.problems.items()
            },
        }
        if self.notes:
            out["notes"] = dict(self.notes)
        return out

    def summary(self) -> str:
        """One line, e.g. ``"kept 40; skipped 3 (missing file 2, no label 1)"``, then the
        notes (``"; normalised by hands (no shoulders) 5"``)."""
        if not self.problems:
            line = f"kept {self.kept}; skipped 0"
        else:
            parts = ", ".join(f"{k} {len(v)}" for k, v in self.problems.items())
            line = f"kept {self.kept}; skipped {self.num_problems} ({parts})"
        return line + "".join(f"; {k} {n}" for k, n in self.notes.items())

    def explain_none_kept(self) -> str:
        """Why nothing was kept: the most common reason and one example of its message."""
        top = self.most_common()
        if top is None:
            return "no item"
        reason, n, detail = top
        return f"most common reason: {reason} ({n} of {self.total}), e.g. {detail}"
