"""The layout stays without knots: no import cycle in the package, nothing hidden behind TYPE_CHECKING, and
the harness and scripts never reach into tests/."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "northflank_release"


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module the file imports, at any depth of the file (top level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_package_has_no_import_cycle() -> None:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: {dep for dep in _imports(path) if dep in modules and dep != name} for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        for dep in graph[name]:
            assert dep not in stack, f"import cycle: {' -> '.join([*stack[stack.index(dep) :], dep])}"
            if dep not in done:
                visit(dep, [*stack, dep])
        done.add(name)

    for name in graph:
        visit(name, [name])


def test_no_import_hides_behind_type_checking() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert "TYPE_CHECKING" not in path.read_text(encoding="utf-8"), path.relative_to(REPO)


def test_the_harness_and_the_scripts_import_nothing_from_tests() -> None:
    for path in [*(REPO / "testing").glob("*.py"), *(REPO / "scripts").glob("*.py")]:
        reached = {name for name in _imports(path) if name == "tests" or name.startswith("tests.")}
        assert not reached, f"{path.relative_to(REPO)} imports {sorted(reached)}"


def test_no_test_module_is_imported_and_the_shared_conftest_imports_only_the_harness() -> None:
    """What tiers share lives in testing/: a constant or helper imported from a test module (or from a tier's
    folder into tests/conftest.py, which every tier loads) ties the tiers together."""
    for path in (REPO / "tests").rglob("*.py"):
        reached = {name for name in _imports(path) if name.startswith("tests.")}
        test_modules = {name for name in reached if any(part.startswith("test_") for part in name.split("."))}
        assert not test_modules, f"{path.relative_to(REPO)} imports {sorted(test_modules)}"
        if path == REPO / "tests" / "conftest.py":
            assert not reached, f"tests/conftest.py imports {sorted(reached)}"
