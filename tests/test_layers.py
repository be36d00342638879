"""The package's shape: engine layers whose imports run down only, no import cycles, and method
names compared only in ``methods/``.

Imports are read from the source (every ``import``, inside functions too), so an import that runs
only on some path counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

from peftlab.methods import METHODS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "peftlab"

# The course engine, bottom first; a module may import its own layer and those below. Every other
# peftlab module belongs to the grading wing, which the engine never imports (the CLI, above both
# wings, hands `peftlab course` over to it).
LAYERS = (
    ("peftlab.errors", "peftlab.paths", "peftlab.console", "peftlab.data", "peftlab.metrics",
     "peftlab.memory", "peftlab.profiles", "peftlab.quantization", "peftlab.thresholds",
     "peftlab.timings"),
    ("peftlab.models",),
    ("peftlab.methods", "peftlab.methods.*"),
    ("peftlab.training", "peftlab.evaluation", "peftlab.generation"),
    ("peftlab.interpret", "peftlab.plots", "peftlab.results", "peftlab.sweeps"),
    ("peftlab.notebook", "peftlab.run", "peftlab.exercises"),
    ("peftlab.cli", "peftlab.lab", "peftlab"),
)
TOP = len(LAYERS) - 1


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int | None:
    for index, patterns in enumerate(LAYERS):
        if any(fnmatch.fnmatchcase(module, pattern) for pattern in patterns):
            return index
    return None


def _imports(module: str) -> set[str]:
    """The peftlab modules ``module`` imports anywhere in its source."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                # `from peftlab.methods import lora` imports the submodule, not the package
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: _imports(module) for module in MODULES}


def test_engine_imports_run_down_only():
    """Does every engine module import only its own layer or those below, and never the grading
    wing (the CLI aside)?"""
    wrong = []
    for module, targets in GRAPH.items():
        level = _layer(module)
        if level is None:
            continue
        for target in sorted(targets):
            target_level = _layer(target)
            if target_level is None and level == TOP:
                continue
            if target_level is None or target_level > level:
                where = "the grading wing" if target_level is None else f"layer {target_level}"
                wrong.append(f"{module} (layer {level}) imports {target} ({where})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    """Is the import graph of all peftlab modules, engine and grading wing, free of cycles?"""
    cycles, state = [], {}

    def visit(module, stack):
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)


def test_the_layer_check_sees_imports_inside_functions():
    """Does the check count imports written inside a function, and submodules imported by name?"""
    assert "peftlab.memory" in GRAPH["peftlab.training"]  # imported inside train() only
    assert "peftlab.methods._peft" in GRAPH["peftlab.methods.lora"]  # from peftlab.methods import _peft


def _names_compared_or_keyed(tree: ast.AST):
    """String constants that a comparison tests (``== "lora"``, ``in ("full", ...)``) or that key a
    dict literal (a per-method table): the two ways a trait gets re-derived from a name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            for side in sides:
                items = side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else [side]
                yield from (item for item in items if isinstance(item, ast.Constant))
        elif isinstance(node, ast.Dict):
            yield from (key for key in node.keys if isinstance(key, ast.Constant))


def test_method_names_are_compared_only_in_methods():
    """Outside methods/, does no peftlab module compare a method's name or key a table by it?"""
    found = [f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
             for module, path in MODULES.items() if not module.startswith("peftlab.methods")
             for node in _names_compared_or_keyed(ast.parse(path.read_text(encoding="utf-8")))
             if node.value in METHODS]
    assert not found, "\n".join(found)
