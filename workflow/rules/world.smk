# The embedded world: tokenizer, prompt splits, pi_init and the gold RM, built offline.


rule prompts:
    output:
        f"{R}/world/prompts.csv",
    input:
        data=local_input(config["world"]["prompt_dataset"]["name_or_path"] or ""),
        code=deps.files("world"),
    params:
        hp={"world": config["world"], "seed": config["seed"]},
    log:
        log("prompts"),
    benchmark:
        bench("prompts")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/prompts.py"


rule world:
    output:
        tokenizer=directory(f"{R}/world/tokenizer"),
        corpus=f"{R}/world/policy_corpus.csv",
    input:
        code=deps.files("world"),
    params:
        hp={"world": config["world"], "response_len": config["response_len"], "seed": config["seed"]},
    log:
        log("world"),
    benchmark:
        bench("world")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/world.py"


rule gold_rm:
    output:
        directory(f"{R}/rms/gold/model"),
    input:
        tokenizer=rules.world.output.tokenizer,
        code=deps.files("world"),
    params:
        hp={"gold": config["gold"], "n_positions": study_config.n_positions(config), "seed": config["seed"] + 3},
    log:
        log("gold_rm"),
    benchmark:
        bench("gold_rm")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/gold_rm.py"


rule train_policy:
    output:
        directory(f"{R}/world/policies/{{policy}}"),
    input:
        corpus=rules.world.output.corpus,
        tokenizer=rules.world.output.tokenizer,
        code=deps.files("policy_train"),
    params:
        hp=lambda wc: {
            "arch": POLICY_SIZES[wc.policy]["arch"],
            "train": config["policy"]["train"],
            "n_positions": study_config.n_positions(config),
            "seed": config["seed"] + 4,
        },
    log:
        log("train_policy", "{policy}"),
    benchmark:
        bench("train_policy", "{policy}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/train_policy.py"
