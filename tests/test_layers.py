"""The floors of docs/LAYERS.md, read from the source: calls run one way, and no import circle.

Every import counts, the lazy ones inside functions too, and so does a package's `__init__`
importing its own modules: a circle is a circle whether Python meets it at start-up or in the
middle of a request ("cannot import name ... from partially initialized module").
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"
GROUND, MODELS, SERVICES, WORKER, ROUTES, FACTORY = range(6)
FLOOR_NAMES = ["ground", "models", "services", "worker entry points", "routes and the API", "the factory"]

# Imports up a floor that stay, each with its reason.
ALLOWED_UP = {
    ("app.jobs", "app"): "a job run by a bare RQ worker (no app context) builds the app to run in",
}


def _modules() -> dict:
    found = {}
    for path in APP.rglob("*.py"):
        parts = path.relative_to(APP.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(name: str, path: Path, known: dict) -> dict:
    """{module imported: line} for every import in the file, resolved to a module of the app."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.setdefault(target, node.lineno)
    return out


def _graph() -> dict:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _circles(graph: dict) -> list:
    """Strongly connected groups of more than one module (Tarjan's algorithm, without recursion)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(graph[target])))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        result.append(frozenset(group))
    return result


def floor(name: str) -> int:
    """The floor of a module of the app (docs/LAYERS.md)."""
    parts = name.split(".")
    last = parts[-1]
    if name == "app" or last in ("cli", "seed"):
        return FACTORY
    if name in ("app.jobs", "app.sweeps"):
        return WORKER
    if len(parts) > 1 and parts[1] == "models":
        return MODELS
    if len(parts) > 1 and parts[1] == "api":
        return ROUTES
    if len(parts) == 2:
        return ROUTES if (APP / parts[1] / "__init__.py").exists() else GROUND  # an area's blueprint
    if last.endswith("routes") or last == "forms":
        return ROUTES
    return SERVICES


def test_the_app_has_no_import_circle():
    circles = [sorted(c) for c in _circles(_graph())]
    assert not circles, f"import circles: {circles}"


def test_no_module_imports_from_a_floor_above_its_own():
    up = [f"{name} ({FLOOR_NAMES[floor(name)]}) imports {target} ({FLOOR_NAMES[floor(target)]}) at line {line}"
          for name, targets in _graph().items() for target, line in targets.items()
          if floor(target) > floor(name) and (name, target) not in ALLOWED_UP]
    assert not up, "\n".join(up)


def test_an_area_package_holds_its_blueprint_and_imports_none_of_its_modules():
    graph = _graph()
    for name, path in _modules().items():
        if path.name == "__init__.py" and name.count(".") == 1 and name != "app.models":
            own = [target for target in graph[name] if target.startswith(name + ".")]
            assert not own, f"{name} imports {own}: only the app factory imports an area's routes"


@pytest.mark.parametrize("module", ["app.contacts.service", "app.sequences.replies", "app.imports.service"])
def test_a_module_imports_alone_in_a_fresh_interpreter(module):
    # What `python -m bench.sequences` (it failed with "partially initialized module") and RQ, importing one job, do first.
    result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_checks_see_what_they_look_for():
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}
    assert _circles(graph) == [frozenset({"a", "b", "c"})]
    assert floor("app.deals.service") == SERVICES and floor("app.jobs") == WORKER
    assert floor("app.deals.move_routes") == ROUTES and floor("app.errors") == GROUND
    assert floor("app.deals") == ROUTES and floor("app.models.deals") == MODELS and floor("app") == FACTORY
    assert "app.queue" in _graph()["app.imports.service"]  # lazy and top-level imports both seen
