# RL from pi_init against every target RM (gold and each proxy), per algorithm, KL coefficient
# and seed, with evaluation checkpoints along the run; the policy-size axis against its targets.


rule train_rl:
    output:
        f"{R}/rl/{{policy}}/{{algo}}/{{rm}}/kl{{kl}}-s{{seed}}.csv",
    input:
        policy=lambda wc: local_input(POLICY_REFS[wc.policy]),
        target=lambda wc: local_input(rm_path(wc.rm)),
        target_norm=lambda wc: rm_norm(wc.rm),
        gold=local_input(GOLD),
        gold_norm=f"{R}/rms/gold/normalization.json",
        meta=lambda wc: rm_norm(wc.rm) if wc.rm in ("gold", FLAT) else f"{R}/rms/{wc.rm}/metrics.json",
        prompts=rules.prompts.output[0],
        code=deps.files("rl", "tables"),
    params:
        hp=lambda wc: {
            **{k: v for k, v in config["rl"].items()
               if k not in ("algorithms", "kl_coefs", "seeds", "objectives", "train")},  # the grid is in the path
            **config["rl"]["train"],
            "algorithm": wc.algo,
            "kl_coef": float(wc.kl),
            "seed": int(wc.seed),
            "policy": POLICY_REFS[wc.policy],
            "policy_name": wc.policy,
            "target": rm_path(wc.rm),
            "gold": GOLD,
            "response_len": config["response_len"],
            "score_batch_size": config["score_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
            "study_seed": config["seed"],
            **({"flat_factor": FLAT_FACTOR} if wc.rm == FLAT else {}),
        },
        checkpoints=lambda wc: f"{R}/checkpoints/train_rl/{wc.policy}-{wc.algo}-{wc.rm}-kl{wc.kl}-s{wc.seed}",
    log:
        log("train_rl", "{policy}-{algo}-{rm}-kl{kl}-s{seed}"),
    benchmark:
        bench("train_rl", "{policy}-{algo}-{rm}-kl{kl}-s{seed}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/train_rl.py"
