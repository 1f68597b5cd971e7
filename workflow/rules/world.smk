# The world: prompt splits, the embedded language's tokenizer and corpus, the policies and the
# gold RM (built offline here, or given by name_or_path).


rule prompts:
    output:
        f"{R}/world/prompts.csv",
    input:
        data=local_input(config["world"]["prompt_dataset"]["name_or_path"] or ""),
        code=code("prompts"),
    params:
        hp=S.prompts(),
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
        code=code("world"),
    params:
        hp=S.world(),
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
    """The gold RM (the seeded random teacher, or the configured model) and its identity row."""
    output:
        meta=T.gold.meta,
        **({} if config["gold"]["name_or_path"] else {"model": directory(T.gold.model)}),
    input:
        **({} if config["gold"]["name_or_path"] else {"tokenizer": rules.world.output.tokenizer}),
        gold=local_input(config["gold"]["name_or_path"]),
        code=code("gold_rm"),
    params:
        hp=S.gold(),
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
        code=code("train_policy"),
    params:
        hp=lambda wc: S.policy(wc.policy),
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
