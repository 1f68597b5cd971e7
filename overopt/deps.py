"""Which package modules a workflow script depends on, so Snakemake reruns exactly the rules
whose code changed.

Snakemake tracks a ``script:`` file itself but not the modules it imports. A rule's code
inputs are derived from its script: the ``overopt`` modules the script imports, expanded to
the transitive closure of package imports (read from the source with ``ast``, function-level
imports included), with each module's package ``__init__`` files. Editing a module reruns
the rules whose scripts reach it, and no others. :data:`PLUMBING` modules change how a job runs,
never what it computes, and are not code inputs.
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SCRIPTS = PACKAGE.parent / "workflow" / "scripts"
PLUMBING = {"overopt.prefork"}  # the fork server: where a job runs, not what it computes


def _path(module: str) -> Path | None:
    """Source file of a dotted ``overopt`` module (a package's ``__init__``), or None."""
    base = PACKAGE.parent.joinpath(*module.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.exists():
            return p
    return None


def _found(tree: ast.AST) -> set[str]:
    """Dotted ``overopt`` modules an AST imports (``from overopt.x import y`` names module
    ``overopt.x.y`` when y is a submodule, else ``overopt.x``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "overopt":
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                found.add(sub if _path(sub) else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "overopt")
    return found


@lru_cache(maxsize=None)
def _imports(module: str) -> frozenset[str]:
    return frozenset(m for m in _found(ast.parse(_path(module).read_text())) if _path(m) and m not in PLUMBING)


def closure(*modules: str) -> list[str]:
    """Modules named (dotted, e.g. ``overopt.train.rl``) plus everything they import from the
    package, transitively, with the packages that contain them."""
    seen, todo = set(), list(modules)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        if not _path(m):
            raise ValueError(f"overopt has no module {m!r}")
        seen.add(m)
        parts = m.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages
        todo.extend(_imports(m))
    return sorted(seen)


def script_modules(script: str) -> list[str]:
    """The package modules a workflow script (``workflow/scripts/<script>.py``) reaches."""
    return closure(*_found(ast.parse((SCRIPTS / f"{script}.py").read_text())))


def files(script: str) -> list[str]:
    """Source files of :func:`script_modules`, for a rule's ``input``."""
    return [str(_path(m)) for m in script_modules(script)]
