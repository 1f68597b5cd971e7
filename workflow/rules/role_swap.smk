# Wen et al.'s role swap: every member of the flip-rate family scores every member's RL run
# (the reference pool it has scored already), so each serves as golden RM and as proxy; so does
# every RM of the Gao grid with the grid's own RL runs (the second view); one table of the
# ordered pairs.


rule score_runs:
    wildcard_constraints:
        rm=T.wildcard([T[rm] for rm in RUN_SCORERS]) if RUN_SCORERS else "none",
    output:
        f"{R}/role_swap/scores/{{rm}}.npz",
    input:
        rm=lambda wc: local_input(T[wc.rm].model),
        norm=lambda wc: T[wc.rm].norm,
        samples=lambda wc: RUN_SCORERS[wc.rm],
        prompts=rules.prompts.output[0],
        code=code("score_runs"),
    params:
        hp=lambda wc: S.run_scores(wc.rm),
    log:
        log("score_runs", "{rm}"),
    benchmark:
        bench("score_runs", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/score_runs.py"


ROLE_SWAP_RMS = [*dict.fromkeys([*S.role_swap()["family"], *S.role_swap()["grid"]])]  # every RM of both views


rule role_swap:
    output:
        table("role_swap"),
    input:
        pool=[f"{R}/reference/scores/{rm}.npy" for rm in ROLE_SWAP_RMS],
        metas=[T[rm].meta for rm in ROLE_SWAP_RMS],
        samples=ROLE_SWAP_SAMPLES,
        run_scores=[f"{R}/role_swap/scores/{rm}.npz" for rm in RUN_SCORERS],
        code=code("role_swap"),
    params:
        hp=S.role_swap(),
    log:
        log("role_swap"),
    benchmark:
        bench("role_swap")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/role_swap.py"
