"""The code stays small enough to read: modules under 400 lines, functions under 40, public names explained."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "configurations"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40


def modules() -> list[pathlib.Path]:
    found = [path for path in sorted(ROOT.rglob("*.py")) if "migrations" not in path.parts]
    assert len(found) > 80  # the whole app was read
    return found


def test_no_module_over_400_lines():
    big = [f"{p.relative_to(ROOT)}: {n}" for p in modules() if (n := p.read_text().count("\n")) > MAX_MODULE_LINES]
    assert big == []


def test_no_function_over_40_lines():
    long = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_every_public_function_and_class_says_what_it_is():
    # Module level: what a reader imports. Methods overriding Django's or DRF's hooks are documented there.
    missing = []
    for path in modules():
        for node in ast.parse(path.read_text()).body:
            public = isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
            if public and node.name not in ("Command", "Migration") and ast.get_docstring(node) is None:
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert missing == []
