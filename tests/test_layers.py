"""The import layers hold: nothing imports upward, at module level or inside a
function (so no function-local import dodges a cycle).

    driftgate.core  <  trainer  <  serving  <  components  <  pipelines  <  backtest

``driftgate.core`` (config, layout, storage) imports no other driftgate module;
a layer may import its own package and any layer below it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# "driftgate" itself (beyond core) is the application layer to come: CLI, use cases
LAYERS = ["driftgate.core", "trainer", "serving", "components", "pipelines", "backtest", "driftgate"]


def _layer(module: str):
    """Rank of the longest layer name ``module`` falls under (None: not ours)."""
    found = [(len(n), r) for r, n in enumerate(LAYERS) if module == n or module.startswith(n + ".")]
    return max(found)[1] if found else None


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


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
    for top in ("driftgate", "trainer", "serving", "components", "pipelines", "backtest"):
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
