"""The import graph of the code: no cycles between modules or between examsvc's features, no
function-local import without a reason written next to it, and a face engine that knows
nothing of Flask or of the web tier.

The graph is read from the source with ``ast``: a module's imports are those that run when
it is imported (module level, class bodies, ``if``/``try`` at module level), not those under
``if TYPE_CHECKING:``, which never run. An import inside a function is allowed only with a
``# local import: <why>`` comment on its line or on a comment line above its block of
imports (heavy optional libraries in worker code, gevent's patching order, a feature's views
loaded by its ``init_app``). Between features, documented local imports count too.

Last, a few rules that used to be written several times are checked to have one home.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ROOTS = ("examsvc", "proctoring", "question_banks")
MARKER = "# local import:"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (the longest name that is a module of ours or not)
    line: int
    local: bool  # inside a function
    reason: str | None  # the text after MARKER, for a local import


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_files() -> dict[str, Path]:
    return {
        module_name(path): path
        for root in ROOTS
        for path in sorted((REPO / root).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


MODULES = source_files()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, in_function: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _walk(other, in_function)
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, in_function
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, True)
        else:
            yield from _walk(child, in_function)


def _resolve(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    # ``from package import module`` imports the module; ``from module import name`` the module.
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
        for alias in node.names
    ]


def _reason(lines: list[str], line: int) -> str | None:
    """The reason on the import's line, or on a comment line above its block of imports."""
    index = line - 1
    while index >= 0:
        text = lines[index].strip()
        if MARKER in text:
            return text.split(MARKER, 1)[1].strip() or None
        if index < line - 1 and not text.startswith(("import ", "from ")):
            return None
        index -= 1
    return None


def imports() -> list[Import]:
    found = []
    for module, path in MODULES.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node, local in _walk(ast.parse(source, str(path)), False):
            reason = _reason(lines, node.lineno) if local else None
            for target in _resolve(module, path, node):
                found.append(Import(module, target, node.lineno, local, reason))
    return found


IMPORTS = imports()


def ours(target: str) -> str | None:
    """The module of ours that ``target`` names (``a.b.C`` → ``a.b``), or None."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_path_through(graph, set(component)) for component in components]


def components(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Each node of a cycle → every node it is tangled with (reachable both ways)."""

    def reach(start: str) -> set[str]:
        seen, todo = {start}, [start]
        while todo:
            for other in graph.get(todo.pop(), ()):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    reached = {node: reach(node) for node in graph}
    return {
        node: {other for other in reached[node] if node in reached.get(other, ())} for node in graph
    }


def _path_through(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest cycle from the component's first node back to it, for the message."""
    start = min(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for other in sorted(graph.get(node, ()) & component):
            if other == start:
                return [*paths[node], start]
            if other not in paths:
                paths[other] = [*paths[node], other]
                queue.append(other)
    raise AssertionError("a strongly connected component always has a cycle")


def module_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for item in IMPORTS:
        target = ours(item.target)
        # A package's __init__ runs before its modules: a module's own package is not a
        # dependency of it (``from examsvc.attempts import rules`` inside attempts/).
        if not item.local and target and not (item.module + ".").startswith(target + "."):
            graph[item.module].add(target)
    return graph


def feature(module: str) -> str | None:
    """examsvc's unit a module belongs to: ``examsvc.attempts.api`` → ``attempts``,
    ``examsvc.clock`` → ``clock``; None outside examsvc."""
    parts = module.split(".")
    return parts[1] if parts[0] == "examsvc" and len(parts) > 1 else None


def feature_graph() -> dict[str, set[str]]:
    """Edges between examsvc's features (packages and top-level modules). Local imports
    count too: a documented local import is still a dependency between features."""
    graph: dict[str, set[str]] = {}
    for item in IMPORTS:
        source, target = feature(item.module), ours(item.target)
        other = feature(target) if target else None
        if source and other and source != other:
            graph.setdefault(source, set()).add(other)
    return graph


def _explain(graph: dict[str, set[str]], found: list[list[str]]) -> str:
    lines = []
    for cycle in found:
        tangled = components(graph)[cycle[0]]
        lines.append(" → ".join(cycle) + f"  (tangled together: {', '.join(sorted(tangled))})")
    return "\n".join(lines)


def test_no_cycle_between_modules() -> None:
    graph = module_graph()
    found = cycles(graph)
    assert found == [], "import cycles:\n" + _explain(graph, found)


def test_no_cycle_between_features() -> None:
    graph = feature_graph()
    found = cycles(graph)
    assert found == [], "cycles between features:\n" + _explain(graph, found)


def test_function_local_imports_say_why() -> None:
    silent = [
        f"{MODULES[item.module].relative_to(REPO)}:{item.line} imports {item.target}"
        for item in IMPORTS
        if item.local and item.reason is None
    ]
    assert silent == [], (
        f"imports inside functions without a '{MARKER} <why>' comment (move them to the top "
        "of the module, or say why they must wait):\n" + "\n".join(silent)
    )


@pytest.mark.parametrize("forbidden", ["flask", "flask_socketio", "flask_sqlalchemy", "examsvc"])
def test_face_engine_knows_nothing_of_the_web(forbidden: str) -> None:
    used = [
        f"{MODULES[item.module].relative_to(REPO)}:{item.line} imports {item.target}"
        for item in IMPORTS
        if item.module.split(".")[0] == "proctoring"
        and (item.target == forbidden or item.target.startswith(forbidden + "."))
    ]
    assert used == []


def test_the_check_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_check_reads_local_imports_and_their_reasons() -> None:
    reasons = [item.reason for item in IMPORTS if item.local and item.reason]
    assert reasons, "the code has documented local imports, and the check reads their reasons"
    # TYPE_CHECKING imports never run and are not part of the graph.
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\ndef f():\n    import y\n"
    found = [(ast.unparse(node), local) for node, local in _walk(ast.parse(source), False)]
    assert found == [("from typing import TYPE_CHECKING", False), ("import y", True)]


# Rules written once: each text below appears in one module only (the rule's home).
ONE_HOME = {
    "hours=8": "examsvc/clock.py",  # the Beijing zone
    "gb18030": "question_banks/sheets.py",  # a CSV's encodings
    "Workbook()": "question_banks/sheets.py",  # building a workbook
    ".public_view(": "question_banks/types.py",  # the candidate view of a question
    "AGENCY_LABELS": "examsvc/attempts/rules.py",  # a paper state's words
    "min(allowance_minutes(": "examsvc/attempts/operations.py",  # time available (capped)
}


@pytest.mark.parametrize(("text", "home"), ONE_HOME.items())
def test_each_rule_is_written_in_one_place(text: str, home: str) -> None:
    places = sorted(
        str(path.relative_to(REPO))
        for path in MODULES.values()
        if text in path.read_text(encoding="utf-8")
    )
    assert places == [home]
