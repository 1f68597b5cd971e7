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


SHIFT_PROXIES = T.of_family(target_grid.CUE)


rule score_shift:
    """A shift proxy's accuracy on the OOD prompts' pairs, clean and with the cue (Mao's shift on
    new prompts), after training: the OOD pairs' settings retrain nothing."""
    wildcard_constraints:
        rm=T.wildcard(SHIFT_PROXIES) if SHIFT_PROXIES else "none",
    output:
        f"{R}/rms/{{rm}}/ood_shift.json",
    input:
        rm=lambda wc: local_input(T[wc.rm].model),
        pairs=rules.label_ood.output[0],
        code=code("score_shift"),
    params:
        hp=lambda wc: S.shift_scores(wc.rm),
    log:
        log("score_shift", "{rm}"),
    benchmark:
        bench("score_shift", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/score_shift.py"
