# The reference stage: one pool of pi_init samples on the eval prompts, generated once; each RM
# with a model of its own scores it once, which fixes its normalization (pi_init: mean 0, std 1)
# for every later stage. Gold labeling needs gold's; best-of-n reads every target's scores.


rule sample_pool:
    output:
        f"{R}/reference/pool.csv",
    input:
        policy=local_input(S.pi_init),
        prompts=rules.prompts.output[0],
        code=code("sample_pool"),
    params:
        hp=S.pool(config["policy"]["name"], config["bon"]["N"], 6, "eval"),
    log:
        log("sample_pool"),
    benchmark:
        bench("sample_pool")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/sample_pool.py"


rule score_pool:
    wildcard_constraints:
        rm=T.wildcard(T.scored),
    output:
        scores=f"{R}/reference/scores/{{rm}}.npy",
        norm=f"{R}/rms/{{rm}}/normalization.json",
    input:
        rm=lambda wc: local_input(T[wc.rm].model),
        meta=lambda wc: T[wc.rm].meta,
        pool=rules.sample_pool.output[0],
        prompts=rules.prompts.output[0],
        code=code("score_pool"),
    params:
        hp=lambda wc: S.score(wc.rm),
    log:
        log("score_pool", "{rm}"),
    benchmark:
        bench("score_pool", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/score_pool.py"
