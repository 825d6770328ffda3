"""The package's layers, read from the source: `buckets <- dsp <- runtime`, `convert` may use all three,
and no import cycle anywhere.

Every `import` / `from ... import` in every module is counted, at module level or inside a function
(a lazy import is still a dependency). The one sanctioned way from the runtime into the converter
is the CLI's entry points (`fetch`, `convert`, `--backend torch`), which import `convert` lazily,
inside the function that needs it.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "kokoro_litert"
LAYERS = {"buckets": {"buckets"}, "dsp": {"buckets", "dsp"}, "runtime": {"buckets", "dsp", "runtime"},
          "convert": {"buckets", "dsp", "runtime", "convert"}}
# (importing module, imported layer): allowed only lazily, inside a function.
LAZY_ONLY = {("runtime.cli", "convert")}


def _modules() -> dict[str, Path]:
    """Dotted name (without the package prefix) -> source file, for every module of the package."""
    out = {}
    for layer in LAYERS:
        for path in (REPO / layer).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported module, at module level?) for each import of a package module in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    top_level = {id(node) for node in tree.body}
    found = []

    def resolve(module: str | None, level: int) -> str | None:
        if level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (level - 1)]
            return ".".join(base + ([module] if module else []))
        if module and module.startswith(PACKAGE + "."):
            return module[len(PACKAGE) + 1:]
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [resolve(a.name, 0) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(node.module, node.level)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            if target:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules:
                    found.append((target, id(node) in top_level))
    return found


def _graph() -> dict[str, list[tuple[str, bool]]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_layers_point_one_way():
    violations = []
    for module, imports in _graph().items():
        layer = module.split(".")[0]
        for target, top_level in imports:
            target_layer = target.split(".")[0]
            if target_layer in LAYERS[layer]:
                continue
            if (module, target_layer) in LAZY_ONLY and not top_level:
                continue
            violations.append(f"{module} imports {target}")
    assert not violations, "\n".join(violations)


def test_no_import_cycles():
    graph = {m: sorted({t for t, _ in imps if t != m}) for m, imps in _graph().items()}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in graph:
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_the_graph_is_read():
    """The walker sees real edges (so the tests above cannot pass by reading nothing)."""
    graph = _graph()
    assert ("buckets", True) in graph["dsp.sine_source"] or any(t.startswith("buckets") for t, _ in graph["dsp.sine_source"])
    assert ("convert", False) in {(t.split(".")[0], top) for t, top in graph["runtime.cli"]}
    assert any(t == "runtime.api" for t, _ in graph["runtime.server.engine"])
