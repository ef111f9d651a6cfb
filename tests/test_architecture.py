"""The import directions of docs/architecture.md, checked on the source: they hold
because a test fails the moment an import breaks them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("state.livehelp", "state.cobrowse", "state.interview", "state.phone",
            "state.accounts", "state.store", "state.config", "state.cluster")
# What co-browsing and phone codes may use of the model: its declared interface.
MODEL_INTERFACE = {"state.livehelp.extension", "state.livehelp.records",
                   "state.livehelp.errors", "state.livehelp.hub", "state.livehelp.rules"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Module -> modules it imports, for every module of state/ and handlers/."""
    graph = {}
    for path in sorted([*ROOT.glob("state/**/*.py"), *ROOT.glob("handlers/*.py")]):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
        graph[module_name(path)] = found
    return graph


def package_of(module: str) -> str | None:
    return next((p for p in PACKAGES if module == p or module.startswith(p + ".")), None)


def package_graph() -> dict[str, set[str]]:
    """Package -> the other state packages it imports."""
    graph: dict[str, set[str]] = {package: set() for package in PACKAGES}
    for module, imported in imports().items():
        source = package_of(module)
        if source is None:
            continue
        graph[source] |= {p for p in map(package_of, imported) if p and p != source}
    return graph


def test_nothing_in_state_imports_tornado_or_a_handler() -> None:
    offenders = {module: sorted(i for i in imported if i.split(".")[0] in ("tornado", "handlers"))
                 for module, imported in imports().items() if module.startswith("state")}
    assert {m: i for m, i in offenders.items() if i} == {}


def test_cluster_mode_imports_nothing_of_the_rest_and_only_it_speaks_redis() -> None:
    assert package_graph()["state.cluster"] == set()
    speakers = {module for module, imported in imports().items()
                if any(i.split(".")[0] == "redis" for i in imported)}
    assert speakers and all(package_of(module) == "state.cluster" for module in speakers)


def test_the_interview_engine_knows_nothing_of_live_help() -> None:
    assert package_graph()["state.interview"] <= {"state.store"}


@pytest.mark.parametrize("package", ["state.cobrowse", "state.phone"])
def test_extensions_see_the_model_only_through_its_declared_interface(package: str) -> None:
    used = {i for module, imported in imports().items() if package_of(module) == package
            for i in imported if i.startswith("state.livehelp")}
    assert used and used <= MODEL_INTERFACE


def test_the_packages_import_each_other_in_one_direction() -> None:
    graph = package_graph()
    assert graph["state.livehelp"], "the graph is empty: the test would pass for nothing"

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
                   for nxt in graph[start])

    assert [p for p in PACKAGES if reaches(p, p, {p})] == []
