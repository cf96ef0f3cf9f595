"""The house plan holds in the code (ARCHITECTURE.md): the import graph of trainer/ and generators/, computed from
the source, has no circle and no arrow from a lower layer to a higher one; generators read only the trainer's
torch-free rooms; every module that promises to be torch-free is."""
from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import REPO

LAYERS: list[tuple[str, ...]] = [
    ("trainer.credentials", "trainer.errors", "trainer.config", "trainer.gates", "trainer.runtime.launch",
     "trainer.runtime.faults"),
    ("trainer.tracking",),
    ("trainer.schemas",),
    ("trainer.engines.contract", "trainer.engines.registry", "trainer.engines", "trainer.experiments", "trainer.reproduction",
     "trainer.exporters"),
    ("trainer.runtime", "trainer.figures", "trainer.data", "trainer.models", "trainer.trained"),
    ("trainer.envs", "trainer.evals", "trainer.loop"),
    ("trainer.introspect", "trainer.plugin"),
    ("trainer.kinds", "trainer.engines.names_mlp", "trainer.engines.gpt", "trainer.engines.policy_gradient", "trainer.engines.gradcheck",
     "trainer.engines.manual_sgd"),
    ("trainer.api",),
    ("trainer.commands", "trainer.cli", "trainer.__main__", "trainer"),
    ("generators",),
]
"""Layers from the bottom up: a module may import its own layer's modules and lower layers', never a higher one's.
A module belongs to the layer of the longest prefix that names it."""

TORCH_FREE_TRAINER = ("trainer", "trainer.credentials", "trainer.errors", "trainer.config", "trainer.gates",
                      "trainer.kinds", "trainer.kinds.forecast", "trainer.kinds.image",
                      "trainer.runtime.launch", "trainer.runtime.faults", "trainer.tracking.*", "trainer.schemas.*", "trainer.engines",
                      "trainer.engines.contract", "trainer.engines.registry", "trainer.experiments", "trainer.reproduction",
                      "trainer.figures.*")
"""the trainer's rooms that never import torch, the only ones the generators may enter (`.*`: the package and all in it)"""


def in_torch_free_room(module: str) -> bool:
    return any(module == room or (room.endswith(".*") and (module == room[:-2] or module.startswith(room[:-1])))
               for room in TORCH_FREE_TRAINER)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for path in [*(REPO / "trainer").rglob("*.py"), *(REPO / "generators").rglob("*.py")]:
        parts = path.relative_to(REPO).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _targets(module: str, node: ast.Import | ast.ImportFrom, package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module if package else module.rpartition(".")[0]
    if node.level:
        base = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in modules() else target for a in node.names]


@cache
def imports() -> dict[str, set[str]]:
    """module -> every module it imports, anywhere in the file (a function-local import is an arrow too)."""
    graph = {}
    for module, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_targets(module, node, path.name == "__init__.py"))
        graph[module] = found
    return graph


def internal(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in targets if t in graph and t != m} for m, targets in graph.items()}


def layer_of(module: str) -> int:
    best = max(((len(prefix), i) for i, prefixes in enumerate(LAYERS) for prefix in prefixes
                if module == prefix or module.startswith(prefix + ".")), default=None)
    assert best is not None, f"{module} is in no layer of LAYERS: add it where it belongs"
    return best[1]


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def reaches_torch(module: str, graph: dict[str, set[str]], seen: set[str] | None = None) -> list[str] | None:
    """The import path from `module` to torch through module-level imports, or None."""
    seen = seen if seen is not None else set()
    if module in seen:
        return None
    seen.add(module)
    for target in sorted(top_level_imports()[module]):
        if target.split(".")[0] == "torch":
            return [module, target]
        if target in graph:
            path = reaches_torch(target, graph, seen)
            if path:
                return [module, *path]
    return None


@cache
def top_level_imports() -> dict[str, set[str]]:
    """module -> what it imports when it is imported (module level, not inside functions)."""
    graph = {}
    for module, path in modules().items():
        tree = ast.parse(path.read_text(), str(path))
        found = set()
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update(_targets(module, node, path.name == "__init__.py"))
        graph[module] = found
    return graph


def promises_torch_free(path: Path) -> bool:
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    return "torch-free" in doc.lower() or "never imports torch" in doc.lower()


def test_the_import_graph_has_no_circle():
    assert circles(internal(imports())) == []


def test_no_module_imports_a_higher_layer():
    upward = [f"{m} (layer {layer_of(m)}) imports {t} (layer {layer_of(t)})"
              for m, targets in internal(imports()).items() for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert upward == []


def test_the_trainer_never_imports_the_generators():
    assert [(m, t) for m, ts in imports().items() if m.startswith("trainer") for t in ts if t.startswith("generators")] == []


def test_the_generators_enter_only_the_trainers_torch_free_rooms_and_never_torch():
    entered = [(m, t) for m, ts in imports().items() if m.startswith("generators")
               for t in sorted(ts) if t.startswith("trainer") and not in_torch_free_room(t)]
    assert entered == []
    graph = internal(imports())
    assert {m: path for m in graph if m.startswith("generators") and (path := reaches_torch(m, graph))} == {}


def test_every_room_the_generators_may_enter_is_torch_free():
    graph = internal(imports())
    rooms = [m for m in graph if in_torch_free_room(m)]
    assert len(rooms) > 20
    assert {m: path for m in rooms if (path := reaches_torch(m, graph))} == {}


def test_every_module_that_promises_to_be_torch_free_is():
    graph = internal(imports())
    promised = [m for m, path in modules().items() if promises_torch_free(path)]
    assert len(promised) >= 12
    assert {m: path for m in promised if (path := reaches_torch(m, graph))} == {}


PUBLIC_API = {"trainer", "trainer.plugin", "trainer.figures.style"}
"""what an engine written against the public API may import from the trainer (besides its own package)"""


def test_the_kinds_import_nothing_from_the_trainer_but_its_public_api():
    kinds = sorted(m for m in modules() if m.startswith("trainer.kinds."))
    assert {"trainer.kinds.forecast.engine", "trainer.kinds.image.engine"} <= set(kinds)
    private = {m: sorted(t for t in imports()[m] if t.split(".")[0] == "trainer" and t not in PUBLIC_API
                         and not t.startswith(".".join(m.split(".")[:3])))
               for m in kinds}
    assert {m: targets for m, targets in private.items() if targets} == {}


def test_the_kinds_specs_load_without_torch_or_matplotlib_in_a_real_interpreter():
    probe = ("import sys; from trainer.engines import registry; assert {'forecast', 'image'} <= set(registry.specs()); "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib', 'statsmodels', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("entry", ["generators.__main__", "trainer", "trainer.cli", "trainer.experiments", "trainer.engines.registry"])
def test_entry_points_import_without_torch_in_a_real_interpreter(entry):
    probe = f"import sys, {entry}; print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))[:3])"
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
