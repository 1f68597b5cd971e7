"""Code tracking: a rule's inputs include exactly the package modules its script reaches."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from overopt import deps

SCRIPTS = Path(__file__).resolve().parent.parent / "workflow" / "scripts"
ALL_SCRIPTS = sorted(p.stem for p in SCRIPTS.glob("*.py") if p.stem != "_package")
LIGHT = ("curves", "fits", "figures", "rm_figures", "rm_eval", "rm_metrics", "bon_curves")
HEAVY = {"overopt.models", "overopt.data.sampling", "overopt.train.rms", "overopt.train.rl"}


def test_closure_is_transitive_with_parent_packages():
    assert deps.closure("overopt.data.reference") == [
        "overopt", "overopt.data", "overopt.data.reference", "overopt.data.sampling", "overopt.data.splits",
        "overopt.devices", "overopt.inputs", "overopt.models", "overopt.runtime", "overopt.scoring"]
    rms = deps.closure("overopt.train.rms")
    assert {"overopt.train.pfr", "overopt.metrics.prompt_free", "overopt.metrics.ranking"} <= set(rms)  # via pfr
    assert "overopt.metrics.bon" in deps.closure("overopt.tables.rm_eval")
    assert "overopt.models" not in deps.closure("overopt.fit")
    rl = deps.closure("overopt.train.rl")
    assert {"overopt", "overopt.train", "overopt.data", "overopt.metrics"} <= set(rl)  # parent packages
    assert {"overopt.train.ppo", "overopt.train.evaluate", "overopt.metrics.kl", "overopt.teachers"} <= set(rl)


def test_script_modules_and_files():
    mods = deps.script_modules("train_rl")
    assert mods == sorted(mods) and {"overopt.train.rl", "overopt.settings", "overopt.runtime"} <= set(mods)
    assert "overopt.train.rms" not in mods
    files = deps.files("train_rl")
    assert len(files) == len(mods) and all(Path(f).is_file() for f in files)
    root = SCRIPTS.parent.parent
    assert str(root / "overopt" / "__init__.py") in files and str(root / "overopt" / "train" / "__init__.py") in files
    assert str(root / "overopt" / "train" / "rl.py") in files


@pytest.mark.parametrize("script", LIGHT)
def test_light_scripts_do_not_pull_torch_code(script):
    assert not HEAVY & set(deps.script_modules(script))


def test_unknown_module_is_an_error():
    for name in ("nope", "overopt.nope", "overopt.pool"):  # overopt.pool: moved to overopt.data
        with pytest.raises(ValueError, match="no module"):
            deps.closure(name)


def _top_level_imports(script: str) -> str:
    """The script's module-level import statements (``_package`` left out), as source."""
    tree = ast.parse((SCRIPTS / f"{script}.py").read_text())
    keep = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names = [a for a in node.names if a.name != "_package"]
            if names:
                keep.append(ast.Import(names=names))
        elif isinstance(node, ast.ImportFrom) and node.module != "_package":
            keep.append(node)
    return ast.unparse(ast.Module(body=keep, type_ignores=[]))


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_runtime_imports_are_tracked(root, script):
    """Every package module a script really imports when it runs is among its tracked inputs
    (the static closure may hold more: function-level imports)."""
    code = "\n".join([f"import sys; sys.path.insert(0, {str(root)!r})", _top_level_imports(script),
                      "print(' '.join(sorted(m for m in sys.modules if m == 'overopt' or m.startswith('overopt.'))))"])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = set(out.stdout.split())
    named = {n.module for n in ast.parse(_top_level_imports(script)).body
             if isinstance(n, ast.ImportFrom) and n.module.split(".")[0] == "overopt"}
    assert named and named <= loaded  # the imports did run
    assert loaded <= set(deps.script_modules(script)), sorted(loaded - set(deps.script_modules(script)))


def test_table_jobs_never_import_torch(root):
    """Light jobs (tables, figures) run in envs/light.yaml, which has no torch: nothing their
    scripts can reach imports it, nor does the job setup."""
    mods = sorted(set().union(*(deps.script_modules(s) for s in LIGHT)))
    code = (f"import importlib, sys; sys.path.insert(0, {str(root)!r})\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "from overopt import runtime; runtime.setup(1, 0); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300, check=False)
    assert out.stdout.strip() == "False", out.stderr
