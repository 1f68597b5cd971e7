"""The conda env files pin exactly the versions installed here (and in pyproject)."""
import re
from importlib.metadata import version

import pytest
import yaml


def pins(path):
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    out = {}
    for spec in pip:
        name, _, ver = spec.partition("==")
        assert ver, f"{path.name}: {spec!r} is not pinned with =="
        out[name] = ver
    return out


@pytest.mark.parametrize("env", ["torch.yaml", "light.yaml"])
def test_env_pins_match_installed(root, env):
    for name, ver in pins(root / "envs" / env).items():
        installed = version(name).split("+")[0]  # torch reports 2.13.0+cpu
        assert installed == ver, f"envs/{env}: {name}=={ver} but {installed} is installed"


def test_light_env_has_no_torch(root):
    assert "torch" not in pins(root / "envs" / "light.yaml")


def test_pyproject_pins_agree_with_envs(root):
    text = (root / "pyproject.toml").read_text()
    declared = dict(re.findall(r'"([A-Za-z0-9_.-]+)==([^"]+)"', text))
    for env in ("torch.yaml", "light.yaml"):
        for name, ver in pins(root / "envs" / env).items():
            assert declared.get(name) == ver, f"pyproject.toml and envs/{env} disagree on {name}"
