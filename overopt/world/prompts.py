"""The prompt splits: from a prompt dataset (real-scale runs) or from the embedded language.
"""
from __future__ import annotations
from pathlib import Path
import pandas as pd
from overopt.world.language import SPLITS, language, make_prompts


def _load_dataset(name_or_path: str, split: str):
    """A local ``save_to_disk`` folder, or a hub dataset id (needs the hub at run time)."""
    import datasets

    p = Path(name_or_path).expanduser()
    if p.is_dir():
        d = datasets.load_from_disk(str(p))
        return d[split] if isinstance(d, datasets.DatasetDict) else d
    return datasets.load_dataset(name_or_path, split=split)


def dataset_prompts(spec: dict, sizes: dict[str, int], seed: int) -> pd.DataFrame:
    """Prompt splits from a dataset (real-scale runs): shuffled with the seed, then cut into
    ``rm_train``, ``policy_train`` and ``eval``; ``ood`` from a second dataset, if given."""
    rows = []
    d = _load_dataset(spec["name_or_path"], spec["split"]).shuffle(seed=seed)
    need = sum(sizes[s] for s in SPLITS if s != "ood")
    if len(d) < need:
        raise ValueError(f"{spec['name_or_path']} has {len(d)} prompts; world.prompts asks for {need}")
    texts, start = d[spec["column"]][:need], 0
    for split in SPLITS[:-1]:
        rows += [{"split": split, "prompt_id": f"{split}-{i}", "topic": -1, "prompt": t}
                 for i, t in enumerate(texts[start:start + sizes[split]])]
        start += sizes[split]
    if spec.get("ood_name_or_path"):
        o = _load_dataset(spec["ood_name_or_path"], spec.get("ood_split", spec["split"])).shuffle(seed=seed)
        rows += [{"split": "ood", "prompt_id": f"ood-{i}", "topic": -1, "prompt": t}
                 for i, t in enumerate(o[spec.get("ood_column", spec["column"])][:sizes["ood"]])]
    return pd.DataFrame(rows)


def write_prompts(w: dict, seed: int, out_csv: str) -> None:
    """The prompt splits: from ``world.prompt_dataset`` if set, else the embedded language."""
    spec = w.get("prompt_dataset") or {}
    if spec.get("name_or_path"):
        df = dataset_prompts(spec, w["prompts"], seed)
    else:
        df = make_prompts(language(w, seed), w["prompts"], w["prompt_len"], seed)
    df.to_csv(out_csv, index=False)
