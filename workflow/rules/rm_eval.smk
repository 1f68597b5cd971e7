# Reward-model evaluation beyond accuracy (Wen, Razin, Mao): the extra scores it needs (pi_init
# on OOD prompts; the other policy sizes on eval prompts; pool pairs under swapped prompts), then
# metrics, downstream outcomes, their correlations and the RM report card, from scores and
# curves already computed.


rule sample_ood:
    output:
        f"{R}/rm_eval/ood_pool.csv",
    input:
        policy=local_input(S.pi_init),
        prompts=rules.prompts.output[0],
        code=code("sample_pool"),
    params:
        hp=S.pool(config["policy"]["name"], config["rm_eval"]["ood_samples"], 7, "ood"),
    log:
        log("sample_ood"),
    benchmark:
        bench("sample_ood")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/sample_pool.py"


rule sample_policy_pool:
    """k samples per eval prompt from another policy size: reward variance under a second
    student (Razin) and accuracy on pairs from another distribution (Wen's off-policy)."""
    output:
        f"{R}/rm_eval/policy_pools/{{policy}}.csv",
    input:
        policy=lambda wc: local_input(S.policy_ref(wc.policy)),
        prompts=rules.prompts.output[0],
        code=code("sample_pool"),
    params:
        hp=lambda wc: S.pool(wc.policy, config["rm_eval"]["k"], 11, "eval"),
    log:
        log("sample_policy_pool", "{policy}"),
    benchmark:
        bench("sample_policy_pool", "{policy}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/sample_pool.py"


rule score_eval:
    wildcard_constraints:
        rm=T.wildcard(T.evaluated),
    output:
        f"{R}/rm_eval/scores/{{rm}}.npz",
    input:
        rm=lambda wc: local_input(T[wc.rm].model),
        norm=lambda wc: T[wc.rm].norm,
        pool=rules.sample_pool.output[0],
        ood=rules.sample_ood.output[0],
        policy_pools=expand(f"{R}/rm_eval/policy_pools/{{policy}}.csv", policy=OTHER_POLICIES),
        prompts=rules.prompts.output[0],
        code=code("score_eval"),
    params:
        hp=lambda wc: S.extra_scores(wc.rm, OTHER_POLICIES),
    log:
        log("score_eval", "{rm}"),
    benchmark:
        bench("score_eval", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/score_eval.py"


rule rm_eval:
    output:
        rm_eval=table("rm_eval"),
        correlations=table("correlations"),
        report_card=table("report_card"),
        predictors=table("predictors"),
        headlines=table("headlines"),
    input:
        pool=[f"{R}/reference/scores/{t.id}.npy" for t in T.evaluated],
        extra=[f"{R}/rm_eval/scores/{t.id}.npz" for t in T.evaluated],
        norms=[t.norm for t in T.evaluated],  # raw scales, for ECE
        meta=rules.rm_metrics.output[0],
        gold_meta=T.gold.meta,
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        prompts=rules.prompts.output[0],
        code=code("rm_eval"),
    params:
        hp=S.rm_eval(),
    log:
        log("rm_eval"),
    benchmark:
        bench("rm_eval")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/rm_eval.py"
