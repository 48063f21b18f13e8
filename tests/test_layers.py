"""The app's modules form no import cycle, and the core imports no Django models.

import-linter checks the layer contract (pyproject.toml); this test adds what a layers contract cannot say:
no cycle at any depth among the app's modules, function-level imports included (grimp, the graph
import-linter itself builds, sees every import statement wherever it stands).
"""

from __future__ import annotations

import grimp
import pytest

PACKAGE = "configurations"


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(PACKAGE, include_external_packages=True, cache_dir=None)


def strongly_connected(graph, modules: set[str]) -> list[set[str]]:
    """Tarjan's algorithm over the app's import graph: every group of modules that import each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & modules:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            groups.append(group)

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return groups


def app_modules(graph) -> set[str]:
    return {m for m in graph.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")}


def test_the_cycle_finder_finds_a_cycle():
    cyclic = grimp.ImportGraph()
    for module in ("a", "a.one", "a.two", "a.three"):
        cyclic.add_module(module)
    cyclic.add_import(importer="a.one", imported="a.two")
    cyclic.add_import(importer="a.two", imported="a.three")
    cyclic.add_import(importer="a.three", imported="a.one")
    assert {"a.one", "a.two", "a.three"} in strongly_connected(cyclic, {"a.one", "a.two", "a.three"})


def test_no_import_cycle_among_the_apps_modules(graph):
    modules = app_modules(graph)
    assert len(modules) > 40  # the whole app was read
    cycles = [sorted(group) for group in strongly_connected(graph, modules) if len(group) > 1]
    assert cycles == []


def test_the_core_imports_no_django_models_and_nothing_above_it(graph):
    core = {m for m in app_modules(graph) if m.startswith(f"{PACKAGE}.core")}
    found = []
    for module in sorted(core):
        for imported in graph.find_modules_directly_imported_by(module):
            below = imported.startswith(f"{PACKAGE}.core") or imported == f"{PACKAGE}.conf"
            if imported.startswith(PACKAGE) and not below:
                found.append(f"{module} -> {imported}")
            if imported == "django":
                for detail in graph.get_import_details(importer=module, imported=imported):
                    line = detail["line_contents"]
                    models = "django.db.models" in line and "django.db.models.enums" not in line
                    if models or "django.contrib" in line or "from django.db import" in line:
                        found.append(f"{module}:{detail['line_number']}: {line}")
    assert found == []


def test_the_runtime_holds_no_sql_of_its_own():
    """Its queries are the data layer's named ones (configurations/data/queries.py)."""
    import pathlib
    import re

    runtime = pathlib.Path(__file__).resolve().parents[1] / "configurations" / "runtime"
    sql = re.compile(r"[\"'](SELECT|INSERT|UPDATE|DELETE|LISTEN)\b")
    found = [f"{path.name}:{n}" for path in runtime.glob("*.py")
             for n, line in enumerate(path.read_text().splitlines(), 1) if sql.search(line)]  # fmt: skip
    assert found == []
