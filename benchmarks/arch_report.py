"""Import structure of ``signssl/``: circles between modules and between packages.

    .venv/bin/python benchmarks/arch_report.py [--root signssl] [--list]

Reads every ``.py`` file under ``--root`` with :mod:`ast` (nothing is imported) and
prints:

* the module import graph, counted twice: imports at module level (including those
  under ``if TYPE_CHECKING:``, which are left out of the circles) and imports inside
  functions;
* file circles: strongly connected components of the module graph (top-level and
  function-local imports together) with more than one module;
* package circles: strongly connected components of the graph between first-level
  packages (``signssl.engine``, ``signssl.eval``, a top-level module counts as its own
  package);
* the number of function-local ``signssl`` imports (``--list`` prints each one with its
  line, so a reader can check the ``# lazy:`` reason beside it);
* the largest module (lines) and the widest function signature (parameter count).

An import ``from signssl.a import b`` where ``signssl.a.b`` is a module counts as an
edge to ``signssl.a.b``; otherwise to ``signssl.a``.  Importing a module also runs its
package's ``__init__``, so an edge to ``signssl.a.b`` adds one to ``signssl.a``, except
where ``signssl.a`` is a package of the importing module itself (it is initialised
before the module runs).
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path


def module_name(path: Path, root: Path) -> str:
    """``signssl/eval/knn.py`` -> ``signssl.eval.knn``; a package's ``__init__`` -> the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(node: ast.Import | ast.ImportFrom, here: str, is_pkg: bool) -> list[str]:
    """Absolute dotted names an import statement refers to (module or module.attr)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = here.split(".") if is_pkg else here.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" for alias in node.names] + [prefix]


class ImportVisitor(ast.NodeVisitor):
    """Collects (line, names, kind) for every import; kind is top, typing or local."""

    def __init__(self, here: str, is_pkg: bool) -> None:
        self.here, self.is_pkg = here, is_pkg
        self.depth = 0
        self.typing = 0
        self.found: list[tuple[int, list[str], str]] = []
        self.widest: tuple[int, str] = (0, "")

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        a = node.args
        count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs)
        count += (a.vararg is not None) + (a.kwarg is not None)
        if a.args and a.args[0].arg in ("self", "cls"):
            count -= 1
        if count > self.widest[0]:
            self.widest = (count, f"{self.here}.{node.name} (line {node.lineno})")
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_If(self, node: ast.If) -> None:
        if is_type_checking(node):
            self.typing += 1
            for child in node.body:
                self.visit(child)
            self.typing -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        kind = "local" if self.depth else ("typing" if self.typing else "top")
        self.found.append((node.lineno, imported_names(node, self.here, self.is_pkg), kind))

    visit_Import = _import
    visit_ImportFrom = _import


def resolve(name: str, modules: set[str]) -> str | None:
    """The longest known module that ``name`` is or lies in."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan, iterative) with more than one node."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


# docs/architecture.md's layers, top (0) to bottom; a package imports only its own layer
# or below.  `signssl/__init__.py` and `__main__.py` (the package itself) are not ranked.
LAYERS: dict[str, int] = {
    name: rank
    for rank, names in enumerate([
        ("cli",), ("serve",), ("studies",), ("engine",), ("eval",), ("store",),
        ("methods", "recipes"), ("models", "losses"), ("extract", "synth"), ("data",),
        ("priors", "io"), ("pose", "optim", "progress", "distributed", "constants"),
        ("utils", "errors"),
    ])
    for name in names
}


def upward_imports(both: dict[str, set[str]], root_name: str) -> list[str]:
    """Module imports that run from a lower layer to a higher one (:data:`LAYERS`)."""
    out = []
    for m in sorted(both):
        a = LAYERS.get(package_of(m, root_name).partition(".")[2])
        for t in sorted(both[m]):
            b = LAYERS.get(package_of(t, root_name).partition(".")[2])
            if a is not None and b is not None and b < a:
                out.append(f"{m} -> {t}")
    return out


def package_of(module: str, root_name: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else root_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parents[1] / "signssl"
    )
    parser.add_argument("--list", action="store_true", help="print every function-local import")
    args = parser.parse_args()
    root: Path = args.root.resolve()
    files = sorted(root.rglob("*.py"))
    names = {module_name(p, root): p for p in files}
    modules = set(names)

    top: dict[str, set[str]] = defaultdict(set)
    local: dict[str, set[str]] = defaultdict(set)
    local_sites: list[str] = []
    sizes: list[tuple[int, str]] = []
    widest: tuple[int, str] = (0, "")
    for mod, path in names.items():
        text = path.read_text(encoding="utf-8")
        sizes.append((len(text.splitlines()), mod))
        visitor = ImportVisitor(mod, path.name == "__init__.py")
        visitor.visit(ast.parse(text, filename=str(path)))
        widest = max(widest, visitor.widest)
        for line, targets, kind in visitor.found:
            hits = {t for t in (resolve(n, modules) for n in targets) if t}
            # importing a.b.c also runs a and a.b (their __init__)
            for hit in list(hits):
                parent = hit.rpartition(".")[0]
                while parent:
                    hits.add(parent)
                    parent = parent.rpartition(".")[0]
            # a module's own packages are always initialised before it runs
            hits = {t for t in hits if t != mod and not mod.startswith(t + ".")}
            if kind == "top":
                top[mod] |= hits
            elif kind == "local" and hits:
                local[mod] |= hits
                local_sites.append(f"{path.relative_to(root.parent)}:{line}")

    root_name = root.name
    both = {m: top[m] | local[m] for m in modules}
    pkg_graph: dict[str, set[str]] = defaultdict(set)
    for m, targets in both.items():
        for t in targets:
            a, b = package_of(m, root_name), package_of(t, root_name)
            if a != b and b != root_name and a != root_name:
                pkg_graph[a].add(b)
    for m in modules:
        pkg_graph.setdefault(package_of(m, root_name), set())

    file_circles = sccs(both)
    top_circles = sccs({m: top[m] for m in modules})
    pkg_circles = sccs(pkg_graph)
    n_top = sum(len(v) for v in top.values())
    n_local = sum(len(v) for v in local.values())
    print(f"modules under {root_name}/: {len(modules)}")
    print(f"module import edges: {n_top} top-level, {n_local} function-local")
    print(f"function-local {root_name} imports (statements): {len(local_sites)}")
    print(f"file circles (top-level + function-local imports): {len(file_circles)}")
    for comp in file_circles:
        print(f"  {' <-> '.join(comp)}")
    print(f"file circles (top-level imports only): {len(top_circles)}")
    for comp in top_circles:
        print(f"  {' <-> '.join(comp)}")
    print(f"package circles: {len(pkg_circles)}")
    for comp in pkg_circles:
        print(f"  {' <-> '.join(comp)}")
        inside = set(comp)
        for m in sorted(modules):
            a = package_of(m, root_name)
            for t in sorted(both[m]):
                b = package_of(t, root_name)
                if a != b and a in inside and b in inside:
                    how = "top" if t in top[m] else "local"
                    print(f"    {m} -> {t} ({how})")
    up = upward_imports(both, root_name)
    print(f"imports that run up a layer (top-level + function-local): {len(up)}")
    if args.list:
        for line in up:
            print(f"  up: {line}")
    size, mod = max(sizes)
    print(f"largest module: {mod} ({size} lines)")
    print(f"widest signature: {widest[1]} ({widest[0]} parameters)")
    if args.list:
        for site in local_sites:
            print(f"  local import: {site}")


if __name__ == "__main__":
    main()
