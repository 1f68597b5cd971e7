"""Code tracking: a rule's inputs include exactly the package modules it imports."""
import pytest

from overopt import deps


def test_closure_is_transitive():
    assert deps.closure("pool") == ["devices", "models", "pool", "runtime", "sampling"]
    assert "world" in deps.closure("rm_train") and "bon" in deps.closure("tables")
    assert "models" not in deps.closure("fit")


def test_light_modules_do_not_pull_torch_code():
    for m in ("tables", "fit", "figures", "bon"):
        assert not {"models", "sampling", "rm_train"} & set(deps.closure(m))


def test_unknown_module_is_an_error():
    with pytest.raises(ValueError, match="no module"):
        deps.closure("nope")


def test_table_jobs_never_import_torch(root):
    """Light jobs (tables, figures) run in envs/light.yaml, which has no torch."""
    import subprocess
    import sys

    code = ("import sys; from overopt import runtime, tables, fit, figures; runtime.setup(1, 0); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.stdout.strip() == "False", out.stderr
