"""Counting what a bulk job kept and what it set aside, by reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ItemReport:
    """Outcome of a bulk job over many items (files, JSON entries, dataset samples).

    Attributes:
        kept: number of items used.
        problems: reason -> list of ``(item, detail)``; ``item`` is usually a path.
    """

    kept: int = 0
    problems: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def add(self, reason: str, item: str, detail: str = "") -> None:
        """Record one item set aside for ``reason``."""
        self.problems.setdefault(reason, []).append((str(item), detail))

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
        return {
            "counts": self.counts(),
            "problems": {
                k: [{"item": i, "detail": d} for i, d in v] for k, v in self.problems.items()
            },
        }

    def summary(self) -> str:
        """One line, e.g. ``"kept 40; skipped 3 (missing file 2, no label 1)"``."""
        if not self.problems:
            return f"kept {self.kept}; skipped 0"
        parts = ", ".join(f"{k} {len(v)}" for k, v in self.problems.items())
        return f"kept {self.kept}; skipped {self.num_problems} ({parts})"
