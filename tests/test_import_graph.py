"""The layers, checked on the source: no import cycle in the core, siblings never import each other.

Every `import` statement counts, also those inside functions (lazy imports are how cycles
hide); imports under `if TYPE_CHECKING:` are annotations only and do not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Installed module prefix of each source folder (pyproject's package-dir mapping).
FOLDERS = {"countllm": "countllm", "eval": "countllm.eval", "finetune": "countllm.finetune",
           "agents": "countllm.agents", "prompts": "countllm.prompts", "knowledge": "countllm.knowledge"}
SIBLINGS = ("countllm.eval", "countllm.finetune", "countllm.agents")
DISPATCHER = "countllm.cli"  # the one core module allowed to reach the siblings, lazily, per subcommand


def module_files() -> dict[str, Path]:
    modules = {}
    for folder, prefix in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([prefix, *parts])] = path
    return modules


def _runtime_nodes(tree: ast.AST):
    """All nodes except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports (`from a import b` names a.b when b is a module)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in _runtime_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def layer(module: str) -> str:
    return next((s for s in SIBLINGS if module == s or module.startswith(s + ".")), "countllm")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]

    def visit(root: str) -> None:
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return out


def test_the_walker_sees_lazy_imports(graph: dict[str, set[str]]) -> None:
    """A guard on the test itself: the CLI reaches eval only inside functions."""
    assert "countllm.eval.run" in graph["countllm.cli"]
    assert "countllm.pipeline" in graph["countllm.cli"]


def test_cycle_finder_finds_a_planted_cycle() -> None:
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(planted) == [["a", "b", "c"]]


def test_no_import_cycle_anywhere(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_siblings_never_import_each_other(graph: dict[str, set[str]]) -> None:
    crossing = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                      if layer(a) != "countllm" and layer(b) != "countllm" and layer(a) != layer(b))
    assert crossing == []


def test_core_never_imports_training_eval_or_agent_code(graph: dict[str, set[str]]) -> None:
    reaching = sorted(f"{a} -> {b}" for a, deps in graph.items() for b in deps
                      if layer(a) == "countllm" and a != DISPATCHER and layer(b) != "countllm")
    assert reaching == []
