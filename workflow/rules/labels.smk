# Gold labeling: pairs of pi_init responses on RM-training prompts, labeled by the gold RM.


rule label_pairs:
    output:
        f"{R}/labels/pairs.csv",
    input:
        policy=local_input(POLICY),
        gold=local_input(GOLD),
        gold_norm=f"{R}/rms/gold/normalization.json",
        prompts=rules.prompts.output[0],
        code=deps.files("labels"),
    params:
        hp={
            **config["labels"],
            "policy": POLICY,
            "gold": GOLD,
            "n_train": max(config["proxy"]["data_sizes"]),
            "response_len": config["response_len"],
            "sample_batch_size": config["sample_batch_size"],
            "score_batch_size": config["score_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
            "seed": config["seed"] + 5,
        },
    log:
        log("label_pairs"),
    benchmark:
        bench("label_pairs")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/label_pairs.py"
