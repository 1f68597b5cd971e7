"""The ``pfr`` objective (Mao et al. 2025): a ``RewardTrainer`` whose Bradley-Terry loss is
weighted per pair by the prompt-free gap of the labeled pair (see ``overopt.train.rms``).
"""
from __future__ import annotations

import functools

from overopt.metrics.prompt_free import prompt_free_gaps_torch


def pfr_weights(c, tau: float = 1.0):
    """``B * softmax(-c / tau)`` over the batch: decreasing in c, mean 1, detached."""
    import torch

    c = c.detach()
    return c.numel() * torch.softmax(-c / tau, dim=0)


def swap_prompts(input_ids, attention_mask, prompt_len, m: int, pad_token_id: int):
    """The 2*B*M spliced sequences ``prompt_{(i+k) mod B} + response_{s,i}`` of a TRL
    preference batch (rows 0..B-1 chosen, B..2B-1 rejected, right-padded), ordered
    (side s, k, i) and right-padded: returns (input_ids, attention_mask)."""
    import torch

    dev = input_ids.device
    b = input_ids.shape[0] // 2
    width = input_ids.shape[1]
    lengths = attention_mask.sum(-1)
    i = torch.arange(b, device=dev)
    k = torch.arange(1, m + 1, device=dev)
    p_row = ((i[None, :] + k[:, None]) % b).expand(2, m, b)                      # prompt source row
    r_row = (torch.arange(2, device=dev)[:, None, None] * b + i).expand(2, m, b)  # response source row
    p_len = prompt_len[p_row]
    r_start = prompt_len[i].expand(2, m, b)
    new_len = p_len + lengths[r_row] - r_start
    t = torch.arange(int(new_len.max()), device=dev)
    in_prompt = t < p_len[..., None]
    prompt_tok = input_ids[p_row[..., None], t.clamp(max=width - 1)]
    resp_tok = input_ids[r_row[..., None], (r_start[..., None] + t - p_len[..., None]).clamp(0, width - 1)]
    mask = t < new_len[..., None]
    ids = torch.where(in_prompt, prompt_tok, resp_tok).masked_fill(~mask, pad_token_id)
    return ids.reshape(2 * m * b, -1), mask.reshape(2 * m * b, -1).to(attention_mask.dtype)


class _WithPromptLen:
    """Wraps TRL's preference collator: also passes each pair's ``prompt_len``."""

    def __init__(self, base):
        self.base = base

    def __call__(self, examples):
        import torch

        out = self.base(examples)
        out["prompt_len"] = torch.tensor([e["prompt_len"] for e in examples], dtype=torch.long)
        return out


def _common_prefix(*seqs) -> int:
    n = 0
    for toks in zip(*seqs, strict=False):
        if any(t != toks[0] for t in toks[1:]):
            break
        n += 1
    return n


@functools.cache
def pfr_trainer_class():
    """``RewardTrainer`` with the ``pfr`` loss (see the module docstring); built on first use
    so that importing this module does not import TRL."""
    import torch
    from trl import RewardTrainer

    class PromptFreeRewardTrainer(RewardTrainer):
        def __init__(self, *args, pfr_prompts: int, pfr_tau: float, **kwargs):
            if int(pfr_prompts) < 1 or not float(pfr_tau) > 0:
                raise ValueError(f"pfr needs pfr_prompts >= 1 and pfr_tau > 0, got {pfr_prompts}, {pfr_tau}")
            self.pfr_prompts, self.pfr_tau = int(pfr_prompts), float(pfr_tau)
            super().__init__(*args, **kwargs)
            self.data_collator = _WithPromptLen(self.data_collator)

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if "prompt" not in dataset.column_names:
                raise ValueError("objective pfr needs an explicit 'prompt' column")

            def prompt_len(ex):
                prompt = processing_class(text=ex["prompt"])["input_ids"]
                return {"prompt_len": _common_prefix(prompt, ex["chosen_ids"], ex["rejected_ids"])}

            return dataset.map(prompt_len)

        def _set_signature_columns_if_needed(self):
            if self._signature_columns is None:
                self._signature_columns = ["chosen_ids", "rejected_ids", "margin", "prompt_len"]

        def prompt_free_weights(self, model, inputs, prompt_len):
            """(c, w) for a collated batch: prompt-free gaps and detached pfr weights (B,)."""
            b = prompt_len.shape[0]
            m = min(self.pfr_prompts, b - 1)
            if m < 1:  # one pair: no other prompt to swap in
                return torch.zeros(b, device=prompt_len.device), torch.ones(b, device=prompt_len.device)
            with torch.no_grad():
                ids, mask = swap_prompts(inputs["input_ids"], inputs["attention_mask"], prompt_len, m,
                                         self.processing_class.pad_token_id)
                s = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.squeeze(-1).float()
                s = s.view(2, m, b)
                c = prompt_free_gaps_torch((s[0] - s[1]).T)
            return c, pfr_weights(c, self.pfr_tau)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            prompt_len = inputs.pop("prompt_len")
            c, weights = self.prompt_free_weights(model, inputs, prompt_len)
            # the parent's forward pass and metrics; only the loss is reweighted
            _, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            margin = chosen - rejected - inputs["margin"] if "margin" in inputs else chosen - rejected
            loss = -(weights.to(margin.dtype) * torch.nn.functional.logsigmoid(margin)).mean()
            if self.args.center_rewards_coefficient is not None:
                loss = loss + self.args.center_rewards_coefficient * torch.mean((chosen + rejected) ** 2)
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["prompt_free_gap"].append(c.float().mean().item())
            self._metrics[mode]["pfr_weight_max"].append(weights.max().item())
            return (loss, outputs) if return_outputs else loss

    return PromptFreeRewardTrainer
