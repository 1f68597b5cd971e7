import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never download
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def snakemake_bin() -> str:
    exe = Path(sys.executable).parent / "snakemake"
    return str(exe) if exe.exists() else "snakemake"


CODE = ["Snakefile", "config.yaml", "config", "workflow", "envs", "profiles", "overopt"]


def run_snakemake(snakemake_bin, repo: Path, workdir: Path, *args, overlays=(), timeout=1800):
    """Snakemake on the tiny preset (plus overlays) with ``repo``'s Snakefile, in ``workdir``."""
    import subprocess

    cmd = [snakemake_bin, *args, "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(repo / "config.yaml"), str(repo / "config/presets/tiny.yaml"), *map(str, overlays)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    """A copy of the workflow's code, so tests may edit modules without touching the checkout."""
    import shutil

    dst = tmp_path_factory.mktemp("repo")
    for name in CODE:
        src = ROOT / name
        (shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
         if src.is_dir() else shutil.copy2(src, dst / name))
    return dst


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_repo, snakemake_bin) -> Path:
    """One real end-to-end run of the tiny preset, shared by the workflow tests."""
    work = tmp_path_factory.mktemp("tiny")
    out = run_snakemake(snakemake_bin, tiny_repo, work, "--cores", "2")
    assert out.returncode == 0, out.stderr[-4000:]
    return work


def copy_run(src: Path, dst: Path) -> Path:
    """A finished run's folder with its Snakemake metadata (no locks), so a test reruns only
    what its change affects, as a user's second run does."""
    import shutil

    shutil.copytree(src, dst, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    shutil.copytree(src / ".snakemake", dst / ".snakemake", ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dst


def make_tiny_world(d: Path, prompts: dict, arch=None) -> tuple:
    """A random tiny policy and gold RM (same tokenizer) saved under ``d``, an identity
    normalization and prompt splits: the world the RL and DAA building-block tests run on.
    Returns the language and the prompts frame."""
    import torch
    from transformers import GPT2LMHeadModel

    from overopt.models import Normalization, gpt2_config
    from overopt.world import language
    from overopt.world.gold import build_gold

    arch = arch or {"n_embd": 16, "n_layer": 1, "n_head": 2}
    lang = language.Language.make(20, 3, 4, 0.1, seed=0)
    tok = language.make_tokenizer(lang.words)
    torch.manual_seed(0)
    GPT2LMHeadModel(gpt2_config(len(tok), 24, arch, tok)).save_pretrained(d / "policy")
    tok.save_pretrained(d / "policy")
    build_gold(tok, arch, 24, 0.1, seed=1).save_pretrained(d / "gold")
    tok.save_pretrained(d / "gold")
    Normalization(0.0, 1.0, 1).save(d / "norm.json")
    frame = language.make_prompts(lang, prompts, 4, 0)
    frame.to_csv(d / "prompts.csv", index=False)
    return lang, frame
