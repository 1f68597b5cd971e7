# Gold labeling: pairs of pi_init responses on RM-training prompts, labeled by the gold RM.


rule label_pairs:
    output:
        f"{R}/labels/pairs.csv",
    input:
        policy=local_input(S.pi_init),
        gold=local_input(T.gold.model),
        gold_norm=T.gold.norm,
        prompts=rules.prompts.output[0],
        code=code("label_pairs"),
    params:
        hp=S.labels(),
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


rule label_ood:
    """Gold-labeled pairs of pi_init's samples on the OOD prompts: Mao's shift on new prompts."""
    output:
        f"{R}/labels/ood_pairs.csv",
    input:
        policy=local_input(S.pi_init),
        gold=local_input(T.gold.model),
        gold_norm=T.gold.norm,
        prompts=rules.prompts.output[0],
        code=code("label_ood"),
    params:
        hp=S.ood_pairs(),
    log:
        log("label_ood"),
    benchmark:
        bench("label_ood")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/label_ood.py"
