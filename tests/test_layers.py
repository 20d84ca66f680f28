"""The import layers hold: nothing imports upward, at module level or inside a
function (so no function-local import dodges a cycle); no modules import each
other in a circle, inside a layer either; no source file is over 400 lines.

    driftgate.core  <  trainer  <  serving  <  components  <  streaming  <  pipelines  <  backtest  <  driftgate

``driftgate.core`` (config, layout, storage) imports no other driftgate module;
a layer may import its own package and any layer below it, but never along a
circle (``a`` imports ``b`` imports ... imports ``a``): importing a module also
runs its packages' ``__init__``, so those count as imported too.
"""

import ast
from pathlib import Path
from typing import Dict, Iterable, List, Set

import pytest

ROOT = Path(__file__).resolve().parent.parent
# "driftgate" itself (beyond core) is the application layer to come: CLI, use cases
LAYERS = [
    "driftgate.core",
    "trainer",
    "serving",
    "components",
    "streaming",
    "pipelines",
    "backtest",
    "driftgate",
]


def _layer(module: str):
    """Rank of the longest layer name ``module`` falls under (None: not ours)."""
    found = [(len(n), r) for r, n in enumerate(LAYERS) if module == n or module.startswith(n + ".")]
    return max(found)[1] if found else None


def _module_name(path: Path) -> str:
    return _module_name_under(ROOT, path)


def _imports(path: Path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:  # "from components import GateReport" style
                yield node.lineno, f"{node.module}.{alias.name}"


def _sources():
    for top in ("driftgate", "trainer", "serving", "components", "streaming", "pipelines", "backtest"):
        yield from sorted((ROOT / top).rglob("*.py"))


def test_the_layer_list_covers_every_source_file():
    unlayered = [str(p.relative_to(ROOT)) for p in _sources() if _layer(_module_name(p)) is None]
    assert unlayered == [], "give these modules a layer in tests/test_layers.py"


def _upward(path: Path, module: str):
    me = _layer(module)
    return [
        f"{path.name}:{line} imports {target} ({LAYERS[_layer(target)]} is above {LAYERS[me]})"
        for line, target in _imports(path)
        if _layer(target) is not None and _layer(target) > me
    ]


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer(path):
    assert _upward(path, _module_name(path)) == []


def test_a_function_local_upward_import_is_caught(tmp_path):
    src = tmp_path / "probe.py"
    src.write_text("from driftgate.core import storage\n\ndef f():\n    from pipelines.config import x\n")
    assert (
        _upward(src, "serving.probe")[0] == "probe.py:4 imports pipelines.config (pipelines is above serving)"
    )
    assert _upward(src, "driftgate.core.probe")[0].startswith("probe.py:4 imports pipelines.config")


MAX_LINES = 400


def _graph(root: Path, files: Iterable[Path]) -> Dict[str, Set[str]]:
    """Module -> the modules of ``files`` it imports (and their packages' ``__init__``)."""
    paths = {_module_name_under(root, p): p for p in files}
    graph = {}
    for module, path in paths.items():
        targets = set()
        for _, target in _imports(path):
            parts = target.split(".")
            for n in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c
                name = ".".join(parts[:n])
                if name in paths and name != module:
                    targets.add(name)
        graph[module] = targets
    return graph


def _module_name_under(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The import circles of ``graph``: each a sorted strongly connected
    component of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _too_long(root: Path, files: Iterable[Path]) -> List[str]:
    return [
        f"{p.relative_to(root)}: {n} lines (at most {MAX_LINES}: split it along a seam)"
        for p in files
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    ]


def test_no_modules_import_each_other_in_a_circle():
    assert _circles(_graph(ROOT, _sources())) == []


def test_no_source_file_is_over_400_lines():
    assert _too_long(ROOT, _sources()) == []


def test_a_circle_through_a_function_local_import_and_a_package_init_is_caught(tmp_path):
    pkg = tmp_path / "cli"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from cli.main import main\n")
    (pkg / "main.py").write_text("def register():\n    from cli import run\n")
    (pkg / "run.py").write_text("from cli import output\n")
    (pkg / "output.py").write_text("import os\n")
    (pkg / "leaf.py").write_text("from cli import output\n")
    files = sorted(pkg.rglob("*.py"))
    assert _circles(_graph(tmp_path, files)) == [["cli", "cli.main", "cli.run"]]
    (pkg / "__init__.py").write_text('"""imports nothing"""\n')
    assert _circles(_graph(tmp_path, files)) == []


def test_a_401_line_file_is_caught(tmp_path):
    (tmp_path / "long.py").write_text("x = 1\n" * 401)
    (tmp_path / "fine.py").write_text("x = 1\n" * 400)
    assert _too_long(tmp_path, sorted(tmp_path.glob("*.py"))) == [
        "long.py: 401 lines (at most 400: split it along a seam)"
    ]
