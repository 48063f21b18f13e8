"""The code stays small enough to read: modules under 400 lines, functions under 40, public names explained."""

from __future__ import annotations

import ast
import pathlib
import re

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


def _mirror(module: pathlib.Path) -> pathlib.Path:
    relative = module.relative_to(ROOT)
    if relative.name == "__init__.py":
        return TESTS / relative.parent / f"test_{relative.parent.name}.py"
    return TESTS / relative.parent / f"test_{relative.stem}.py"


TESTS = ROOT.parent / "tests"


def _elsewhere() -> dict[str, list[str]]:
    """tests/README.md's table: module -> the test files that cover it."""
    text = (TESTS / "README.md").read_text()
    table = text[text.index("## Modules whose tests live elsewhere") :]
    found: dict[str, list[str]] = {}
    for row in table.splitlines():
        cells = row.split("|")
        if len(cells) < 4 or not cells[1].strip().startswith("`"):
            continue
        for module in re.findall(r"`([\w/.]+\.py)`", cells[1]):
            found[module] = re.findall(r"`([\w/]+/?test_\w+\.py)`", cells[2]) or re.findall(
                r"(\w+/test_\w+\.py)", cells[2]
            )
        if "management/commands/" in cells[1]:
            found["management/commands/"] = re.findall(r"`([\w/]+\.py)`", cells[2])
    return found


def test_every_module_has_a_test_file_a_newcomer_can_find():
    elsewhere = _elsewhere()
    unfound = []
    for module in modules():
        relative = str(module.relative_to(ROOT))
        small_package = module.name == "__init__.py" and len(module.read_text().splitlines()) < 15
        listed = relative in elsewhere or (
            relative.startswith("management/commands/") and elsewhere.get("management/commands/")
        )
        if not (small_package or _mirror(module).exists() or listed):
            unfound.append(relative)
    assert unfound == [], f"add tests/<package>/test_<module>.py or a row in tests/README.md: {unfound}"
    named = {path for paths in elsewhere.values() for path in paths}
    assert named and all((TESTS / path).exists() for path in named), sorted(
        p for p in named if not (TESTS / p).exists()
    )


def test_every_public_method_of_our_own_classes_says_what_it_does():
    # Classes of our own (no base, or Exception/NamedTuple); methods overriding a framework's hooks are exempt.
    own = {"Exception", "NamedTuple", "Protocol"}
    missing = []
    for path in modules():
        for cls in ast.parse(path.read_text()).body:
            if not isinstance(cls, ast.ClassDef) or cls.name.startswith("_"):
                continue
            if any(ast.unparse(base) not in own for base in cls.bases):
                continue
            missing += [
                f"{path.relative_to(ROOT)}:{method.lineno} {cls.name}.{method.name}"
                for method in cls.body
                if isinstance(method, ast.FunctionDef)
                and not method.name.startswith("_")
                and ast.get_docstring(method) is None
            ]
    assert missing == []
