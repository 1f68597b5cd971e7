# Direct alignment from pi_init on the gold-labeled pairs (TRL's DPOTrainer), per loss, beta and
# seed, evaluated at fractions of the first epoch and at each later epoch end.


rule train_daa:
    output:
        f"{R}/daa/{{loss}}/beta{{beta}}-s{{seed}}.csv",
    input:
        policy=local_input(POLICY),
        pairs=rules.label_pairs.output[0],
        gold=local_input(GOLD),
        gold_norm=f"{R}/rms/gold/normalization.json",
        proxy=local_input(rm_path(DAA_PROXY)),
        proxy_norm=f"{R}/rms/{DAA_PROXY}/normalization.json",
        meta=f"{R}/rms/{DAA_PROXY}/metrics.json",
        prompts=rules.prompts.output[0],
        code=deps.files("daa", "tables"),
    params:
        hp=lambda wc: {
            **{k: v for k, v in config["daa"].items() if k not in ("losses", "betas", "seeds", "train", "proxy")},
            **config["daa"]["train"],
            "data_size": study_config.daa_data_size(config),
            "loss": wc.loss,
            "beta": float(wc.beta),
            "seed": int(wc.seed),
            "policy": POLICY,
            "policy_name": config["policy"]["name"],
            "gold": GOLD,
            "proxy": rm_path(DAA_PROXY),
            "response_len": config["response_len"],
            "score_batch_size": config["score_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
        },
        checkpoints=lambda wc: f"{R}/checkpoints/train_daa/{wc.loss}-beta{wc.beta}-s{wc.seed}",
    log:
        log("train_daa", "{loss}-beta{beta}-s{seed}"),
    benchmark:
        bench("train_daa", "{loss}-beta{beta}-s{seed}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/train_daa.py"
