# Razin et al.'s teachers: off-policy pairs (pi_init at another temperature) on the mix members'
# prompts, the members' and gold's scores of those pairs and of the other students' samples,
# and one table of every (student, teacher) with Razin's Table 2 beside it. The members train
# in rule train_rm; the RL of every student against every teacher runs in rule train_rl.
MIX_IDS = [t.id for t in T.mix]
TEACHER_SCORED = [*MIX_IDS, T.gold.id] if MIX_IDS else []


rule label_offpolicy:
    output:
        f"{R}/labels/offpolicy_pairs.csv",
    input:
        policy=local_input(S.pi_init),
        gold=local_input(T.gold.model),
        gold_norm=T.gold.norm,
        prompts=rules.prompts.output[0],
        code=code("label_offpolicy"),
    params:
        hp=S.offpolicy_labels() if MIX_IDS else {},
    log:
        log("label_offpolicy"),
    benchmark:
        bench("label_offpolicy")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/label_offpolicy.py"


rule score_teachers:
    wildcard_constraints:
        rm=closed(TEACHER_SCORED) if TEACHER_SCORED else "none",
    output:
        f"{R}/teachers/scores/{{rm}}.npz",
    input:
        rm=lambda wc: local_input(T[wc.rm].model),
        norm=lambda wc: T[wc.rm].norm,
        offpolicy=rules.label_offpolicy.output[0],
        policy_pools=expand(f"{R}/rm_eval/policy_pools/{{policy}}.csv", policy=OTHER_POLICIES),
        prompts=rules.prompts.output[0],
        code=code("score_teachers"),
    params:
        hp=lambda wc: S.teacher_scores(wc.rm),
    log:
        log("score_teachers", "{rm}"),
    benchmark:
        bench("score_teachers", "{rm}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/score_teachers.py"


rule teachers:
    output:
        teachers=table("teachers"),
        correlations=table("teacher_correlations"),
    input:
        pool=[f"{R}/reference/scores/{rm}.npy" for rm in TEACHER_SCORED],
        scores=[f"{R}/teachers/scores/{rm}.npz" for rm in TEACHER_SCORED],
        meta=f"{R}/tables/rm_metrics.csv",
        curves=f"{R}/tables/curves.csv",
        prompts=rules.prompts.output[0],
        code=code("teachers"),
    params:
        hp=S.teachers(),
    log:
        log("teachers"),
    benchmark:
        bench("teachers")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/teachers.py"
