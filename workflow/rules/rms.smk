# The proxy RMs: every proxy of the registry (the grid: sizes x data sizes x objectives x
# seeds, and the papers' own families), trained with TRL's RewardTrainer on the first data_size
# labeled pairs (a member of Razin's mix: part of them from the off-policy pairs).


rule train_rm:
    wildcard_constraints:
        rm=T.wildcard(T.proxies),
    output:
        model=directory(f"{R}/rms/{{rm}}/model"),
        metrics=f"{R}/rms/{{rm}}/metrics.json",
    input:
        pairs=rules.label_pairs.output[0],
        offpolicy=lambda wc: [f"{R}/labels/offpolicy_pairs.csv"] if T[wc.rm].grid["onpolicy"] < 1 else [],
        policy=local_input(S.pi_init),
        code=code("train_rm"),
    params:
        hp=lambda wc: S.proxy(wc.rm),
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
