"""docs/methods.md: every cited anchor is a heading, every named file and object exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "methods.md"
CITING = ("signssl", "tests", "benchmarks", "docs", "examples", "README.md", "CONTRIBUTING.md")
SUFFIXES = {".py", ".yaml", ".yml", ".md", ".toml"}

CITATION = re.compile(r"docs/methods\.md#([A-Za-z0-9_-]+)")
LOCAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
CODE_REF = re.compile(r"`(signssl/[\w/]+\.(?:py|yaml))(?:::([\w.]+))?`")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces -> '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    return {slug(m) for m in re.findall(r"^#{1,6} (.+)$", markdown, flags=re.MULTILINE)}


def citing_files() -> list[Path]:
    files: list[Path] = []
    for name in CITING:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()]
    return files


def top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_slug_follows_github():
    assert slug("SignRep variance-covariance") == "signrep-variance-covariance"
    assert slug("MoCo v2") == "moco-v2"
    assert slug("SSL-SLR setting") == "ssl-slr-setting"


def test_every_citation_names_a_section():
    known = anchors(DOC.read_text(encoding="utf-8"))
    bad = []
    for path in citing_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        cited = CITATION.findall(text)
        if path == DOC:
            cited += LOCAL_LINK.findall(text)
        bad += [f"{path.relative_to(ROOT)}: #{a}" for a in cited if a not in known]
    assert not bad, "citations of docs/methods.md sections that do not exist:\n" + "\n".join(bad)


def test_no_citation_of_a_missing_methods_file():
    bad = [
        str(p.relative_to(ROOT))
        for p in citing_files()
        if "METHODS.md" in p.read_text(encoding="utf-8", errors="replace")
        and p.resolve() != Path(__file__).resolve()
    ]
    assert not bad, f"cite docs/methods.md instead of METHODS.md in: {bad}"


def test_named_code_exists():
    refs = CODE_REF.findall(DOC.read_text(encoding="utf-8"))
    assert len(refs) > 100
    missing = []
    for rel, name in refs:
        path = ROOT / rel
        if not path.is_file():
            missing.append(rel)
        elif name and name.split(".")[0] not in top_level_names(path):
            missing.append(f"{rel}::{name}")
    assert not missing, "docs/methods.md names code that is not there:\n" + "\n".join(
        sorted(set(missing))
    )


@pytest.mark.parametrize("anchor", ["signrep", "sl-fpn", "masa", "pixel-mae", "metrics"])
def test_each_method_has_a_section(anchor):
    assert anchor in anchors(DOC.read_text(encoding="utf-8"))
