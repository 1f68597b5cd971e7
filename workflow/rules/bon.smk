# Best-of-n: one pool from pi_init on the eval prompts, generated once; each RM scores it
# once (which also fixes the RM's normalization); the estimator then costs nothing, so
# one job computes every target's curve.


rule sample_pool:
    output:
        f"{R}/bon/pool.csv",
    input:
        policy=local_input(POLICY),
        prompts=rules.prompts.output[0],
        code=deps.files("pool"),
    params:
        hp={
            "policy": POLICY,
            "N": config["bon"]["N"],
            "response_len": config["response_len"],
            "sample_batch_size": config["sample_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
            "seed": config["seed"] + 6,
        },
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
    output:
        scores=f"{R}/bon/scores/{{rm}}.npy",
        norm=f"{R}/rms/{{rm}}/normalization.json",
    input:
        rm=lambda wc: local_input(rm_path(wc.rm)),
        pool=rules.sample_pool.output[0],
        prompts=rules.prompts.output[0],
        code=deps.files("pool"),
    params:
        hp=lambda wc: {
            "rm": rm_path(wc.rm),
            "score_batch_size": config["score_batch_size"],
            "trust_remote_code": config["trust_remote_code"],
        },
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


rule bon_curves:
    output:
        f"{R}/bon/curves.csv",
    input:
        scores=expand(f"{R}/bon/scores/{{rm}}.npy", rm=TARGETS),
        gold_meta=f"{R}/rms/gold/normalization.json",
        metas=expand(f"{R}/rms/{{rm}}/metrics.json", rm=PROXY_IDS),
        code=deps.files("tables"),
    params:
        hp={"bon": config["bon"], "seed": config["seed"], "policy": config["policy"]["name"]},
    log:
        log("bon_curves"),
    benchmark:
        bench("bon_curves")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/bon_curves.py"
