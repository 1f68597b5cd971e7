# The proxy-RM grid: sizes x data sizes x objectives x seeds, trained with TRL's RewardTrainer.


rule train_rm:
    wildcard_constraints:
        rm=r"[A-Za-z0-9_]+-d\d+-[a-z]+-s\d+",
    output:
        model=directory(f"{R}/rms/{{rm}}/model"),
        metrics=f"{R}/rms/{{rm}}/metrics.json",
    input:
        pairs=rules.label_pairs.output[0],
        policy=local_input(POLICY),
        code=deps.files("rm_train"),
    params:
        hp=lambda wc: {
            **study_config.proxy(config, wc.rm),
            "train": config["proxy"]["train"],
            **({"pfr": {k: config["proxy"]["pfr"][k] for k in ("prompts", "tau")}}
               if study_config.proxy(config, wc.rm)["objective"] == "pfr" else {}),  # not which cells get one
            "tokenizer": POLICY,
            "n_positions": study_config.n_positions(config),
            "labels": config["labels"],
        },
        checkpoints=lambda wc: f"{R}/checkpoints/train_rm/{wc.rm}",  # outside the outputs: survives a kill
    log:
        log("train_rm", "{rm}"),
    benchmark:
        bench("train_rm", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/train_rm.py"
