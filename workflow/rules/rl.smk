# RL from pi_init against every RL target of the registry (gold, the proxies of rl.objectives,
# the reference teachers), per algorithm, KL coefficient and seed, evaluated along the run; the
# policy-size axis against its own targets.


rule train_rl:
    output:
        curve=f"{R}/rl/{{policy}}/{{algo}}/{{rm}}/kl{{kl}}-s{{seed}}.csv",
        samples=f"{R}/rl/{{policy}}/{{algo}}/{{rm}}/kl{{kl}}-s{{seed}}.samples.csv",
    input:
        policy=lambda wc: local_input(S.policy_ref(wc.policy)),
        target=lambda wc: local_input(T[wc.rm].model),
        target_norm=lambda wc: T[wc.rm].norm,
        meta=lambda wc: T[wc.rm].meta,
        gold=local_input(T.gold.model),
        gold_norm=T.gold.norm,
        prompts=rules.prompts.output[0],
        code=code("train_rl"),
    params:
        hp=lambda wc: S.rl(wc.policy, wc.algo, wc.rm, wc.kl, wc.seed),
        identity=lambda wc: T.references(config["seed"]).get(wc.rm, {}).get("identity"),
        checkpoints=lambda wc: f"{R}/checkpoints/train_rl/{wc.policy}-{wc.algo}-{wc.rm}-kl{wc.kl}-s{wc.seed}",
    log:
        log("train_rl", "{policy}-{algo}-{rm}-kl{kl}-s{seed}"),
    benchmark:
        bench("train_rl", "{policy}-{algo}-{rm}-kl{kl}-s{seed}")
    conda:
        ENV_TORCH
    threads: 1
    resources:
        gpu=1,
    script:
        "../scripts/train_rl.py"
