"""Sampling responses from a policy at temperature 1 (no top-k / top-p; another temperature
only for an off-policy source), in batches."""
from __future__ import annotations

import pandas as pd

from overopt import runtime


def sample_responses(policy, tokenizer, prompts: list[str], n: int, max_new_tokens: int,
                     batch_size: int = 512, seed: int = 0, progress: str | None = "sampling",
                     temperature: float = 1.0) -> pd.DataFrame:
    """``n`` responses per prompt. Returns rows ``prompt_idx, sample, response, length``
    (length in policy tokens, EOS excluded)."""
    import torch

    tokenizer.padding_side = "left"
    jobs = [(i, s) for i in range(len(prompts)) for s in range(n)]
    rows = []
    gen = torch.Generator(device="cpu").manual_seed(seed)
    bar = runtime.Progress(progress, len(jobs)) if progress else None
    with torch.inference_mode():
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start:start + batch_size]
            torch.manual_seed(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
            enc = tokenizer([prompts[i] for i, _ in chunk], return_tensors="pt",
                            padding=True).to(policy.device)
            out = policy.generate(
                **enc, do_sample=True, temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            new = out[:, enc["input_ids"].shape[1]:].cpu()
            special = torch.tensor(sorted(tokenizer.all_special_ids))
            lengths = (~torch.isin(new, special)).sum(1).numpy()
            texts = tokenizer.batch_decode(new, skip_special_tokens=True)
            for (i, s), t, length in zip(chunk, texts, lengths):
                rows.append((i, s, t, int(length)))
            if bar:
                bar.update(start + len(chunk))
    return pd.DataFrame(rows, columns=["prompt_idx", "sample", "response", "length"])
