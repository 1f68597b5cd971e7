# Reward-model evaluation beyond accuracy (Wen, Razin, Mao): the extra scores it needs (pi_init
# on OOD prompts; the other policy sizes on eval prompts; pool pairs under swapped prompts), then
# metrics, downstream outcomes, their correlations and the RM report card, from scores and
# curves already computed.


rule sample_ood:
    output:
        f"{R}/rm_eval/ood_pool.csv",
    input:
        policy=local_input(POLICY),
        prompts=rules.prompts.output[0],
        code=deps.files("pool"),
    params:
        hp=pool_hp(POLICY, config["rm_eval"]["ood_samples"], config["seed"] + 7, "ood"),
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
        policy=lambda wc: local_input(POLICY_REFS[wc.policy]),
        prompts=rules.prompts.output[0],
        code=deps.files("pool"),
    params:
        hp=lambda wc: pool_hp(POLICY_REFS[wc.policy], config["rm_eval"]["k"], config["seed"] + 11, "eval"),
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
    output:
        f"{R}/rm_eval/scores/{{rm}}.npz",
    input:
        rm=lambda wc: local_input(rm_path(wc.rm)),
        norm=f"{R}/rms/{{rm}}/normalization.json",
        pool=rules.sample_pool.output[0],
        ood=rules.sample_ood.output[0],
        policy_pools=expand(f"{R}/rm_eval/policy_pools/{{policy}}.csv", policy=OTHER_POLICIES),
        prompts=rules.prompts.output[0],
        code=deps.files("pool"),
    params:
        hp=lambda wc: {
            "rm": rm_path(wc.rm),
            "policies": OTHER_POLICIES,
            "swap_prompts": config["rm_eval"]["swap_prompts"],
            "swaps": config["rm_eval"]["swaps"],
            "score_batch_size": config["score_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
        },
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
        pool=expand(f"{R}/bon/scores/{{rm}}.npy", rm=TARGETS),
        extra=expand(f"{R}/rm_eval/scores/{{rm}}.npz", rm=TARGETS),
        meta=rules.rm_metrics.output[0],
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        prompts=rules.prompts.output[0],
        code=deps.files("rm_tables"),
    params:
        hp={
            **{k: v for k, v in config["rm_eval"].items() if k not in ("ood_samples", "swap_prompts", "swaps")},
            "level": config["fit"]["level"],
            "setting": RM_SETTING,
            "seed": config["seed"],
        },
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


rule rm_figures:
    output:
        pngs=[figure(name, paper) for name, paper in RM_FIGURE_PAPERS.items()],
        pdfs=expand(f"{R}/figures/{{f}}.pdf", f=RM_FIGURE_NAMES),
    input:
        rm_eval=rules.rm_eval.output.rm_eval,
        correlations=rules.rm_eval.output.correlations,
        report_card=rules.rm_eval.output.report_card,
        predictors=rules.rm_eval.output.predictors,
        curves=rules.curves.output[0],
        code=deps.files("rm_figures"),
    params:
        hp={"setting": RM_SETTING},
    log:
        log("rm_figures"),
    benchmark:
        bench("rm_figures")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/rm_figures.py"
