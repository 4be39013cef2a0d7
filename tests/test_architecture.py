"""The package's shape: no import cycles between its modules (imports made only for type
checking aside) and no module so long that it holds more than one concept."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

import resonant_ad

PACKAGE = Path(resonant_ad.__file__).parent
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports anywhere (in functions too), except under
    ``if TYPE_CHECKING:``; ``from package import module`` counts as importing the module."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(
                        [*package.split(".")[: len(package.split(".")) - child.level + 1], base]
                    ).strip(".")
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in MODULES and m != name}


def _cycles() -> list[list[str]]:
    graph = {name: _imported(name, path) for name, path in MODULES.items()}
    # a package's __init__ that re-exports its modules is not a dependency of those modules:
    # only the edges from a module to modules outside its own package form cycles of design
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                if not _through_own_init(cycle):
                    cycles.append(cycle)
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name)
    return cycles


def _through_own_init(cycle: list[str]) -> bool:
    """A cycle that passes through a package's ``__init__`` from one of its own modules (the
    package re-exporting its modules), which Python resolves and which says nothing of design."""
    for a, b in itertools.pairwise(cycle):
        if MODULES[b].name == "__init__.py" and a.startswith(b + "."):
            return True
    return False


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_crowded(name: str) -> None:
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{name} has {n} lines"


def test_the_cycle_check_sees_a_cycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("def f():\n    from resonant_ad.b import g\n")
    b.write_text("from typing import TYPE_CHECKING\nimport resonant_ad.a\n")
    monkeypatch.setitem(globals(), "MODULES", {"resonant_ad.a": a, "resonant_ad.b": b})
    assert _cycles() == [["resonant_ad.a", "resonant_ad.b", "resonant_ad.a"]]
    b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import resonant_ad.a\n")
    assert _cycles() == []
