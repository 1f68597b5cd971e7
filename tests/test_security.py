"""trust_remote_code reaches every from_pretrained: a static check over the package, and the
proxy backbone path (a pretrained name_or_path proxy) for real."""
import ast
from pathlib import Path

import pandas as pd
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "overopt"


def test_every_from_pretrained_passes_trust_remote_code():
    missing = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "from_pretrained":
                if "trust_remote_code" not in {k.arg for k in node.keywords}:
                    missing.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not missing, missing


class _Stop(Exception):
    pass


def test_proxy_backbone_gets_trust_remote_code(tmp_path, monkeypatch):
    """train_proxy hands the config's trust_remote_code to the backbone's tokenizer and model."""
    import transformers

    from overopt import settings
    from overopt.train import rms

    seen = {}

    def spy(kind):
        def from_pretrained(path, *args, **kw):
            seen[kind] = kw.get("trust_remote_code")
            if kind == "model":
                raise _Stop
            return real_tok(path, *args, **kw)
        return from_pretrained

    from overopt.world import language

    tok_dir = tmp_path / "backbone"
    language.make_tokenizer(["a", "b"]).save_pretrained(tok_dir)
    real_tok = transformers.AutoTokenizer.from_pretrained
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy("tokenizer"))
    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", spy("model"))
    pairs = pd.DataFrame({"split": ["train", "heldout"], "prompt_id": ["p0", "p1"], "prompt": ["a ", "b "],
                          "chosen": ["a", "b"], "rejected": ["b", "a"], "gold_chosen": [1.0, 1.0],
                          "gold_rejected": [0.0, 0.0]})
    pairs.to_csv(tmp_path / "pairs.csv", index=False)
    s = settings.Proxy(id="p-d1-bt-s0", size={"name": "p", "name_or_path": str(tok_dir)}, data_size=1, objective="bt",
                       seed=0, family="grid", flip=0.0, cue=None, onpolicy=1.0, train={}, tokenizer=str(tok_dir), n_positions=8, labels={"mode": "hard", "flip_rate": 0},
                       pfr=None, trust_remote_code=True, dtype="auto")
    with pytest.raises(_Stop):
        rms.train_proxy(s, str(tmp_path / "pairs.csv"), str(tmp_path / "out"))
    assert seen == {"tokenizer": True, "model": True}
