"""Which package modules a workflow script depends on, so Snakemake reruns exactly the rules
whose code changed.

Snakemake tracks a ``script:`` file itself but not the modules it imports. Each rule lists
the package modules it imports; this module expands that to the transitive closure of
``overopt`` imports (read from the source with ``ast``), and the rule takes those files as
inputs: editing a module reruns the rules that import it, and no others.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def _imports(module: str) -> frozenset[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "overopt":
                found.update(a.name for a in node.names)
            elif node.module.startswith("overopt."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("overopt."))
    return frozenset(m for m in found if (PACKAGE / f"{m}.py").exists())


def closure(*modules: str) -> list[str]:
    """Modules named plus everything they import from the package, transitively."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m not in seen:
            if not (PACKAGE / f"{m}.py").exists():
                raise ValueError(f"overopt has no module {m!r}")
            seen.add(m)
            todo.extend(_imports(m))
    return sorted(seen)


def files(*modules: str) -> list[str]:
    """Source files of :func:`closure`, for a rule's ``input``."""
    return [str(PACKAGE / f"{m}.py") for m in closure(*modules)]
