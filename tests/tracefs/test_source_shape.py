"""The shape of the source, read with ``ast``: class names unique across tpfs/, no
module over 600 lines, and every room of tpfs/tracefs/ imported by a mount-free test."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import tpfs

ROOT = Path(tpfs.__file__).parent
TESTS = Path(__file__).parent.parent
MAX_LINES = 600


def sources(root: Path) -> dict[str, ast.Module]:
    return {str(path.relative_to(root)): ast.parse(path.read_text(), str(path))
            for path in sorted(root.rglob("*.py"))}


def duplicate_classes(modules: dict[str, ast.Module]) -> dict[str, list[str]]:
    where: dict[str, list[str]] = defaultdict(list)
    for name, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                where[node.name].append(name)
    return {cls: paths for cls, paths in where.items() if len(paths) > 1}


def test_duplicates_are_found() -> None:
    twice = {"a.py": ast.parse("class A: pass\nclass B: pass"),
             "b.py": ast.parse("def f():\n    class A: pass")}
    assert duplicate_classes(twice) == {"A": ["a.py", "b.py"]}


def test_class_names_are_unique_across_tpfs() -> None:
    assert duplicate_classes(sources(ROOT)) == {}


def test_no_module_is_over_600_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in ROOT.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def imported_modules(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_every_room_is_imported_by_a_mount_free_test() -> None:
    rooms = {path.parent.name for path in (ROOT / "tracefs").glob("*/__init__.py")}
    assert {"vfs", "tracepoints", "trace", "events", "dynamic"} <= rooms
    imported = set()
    for folder in ("tracefs", "model"):
        for tree in sources(TESTS / folder).values():
            imported |= imported_modules(tree)
    reached = {room for room in rooms
               if any(name.startswith(f"tpfs.tracefs.{room}.") for name in imported)}
    assert reached == rooms
