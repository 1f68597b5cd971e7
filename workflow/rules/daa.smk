# Direct alignment from pi_init (and each policy of the policy-size axis) on the gold-labeled
# pairs (TRL's DPOTrainer), per loss, beta and seed, evaluated at fractions of the first epoch
# and at each later epoch end; each run keeps its evaluation samples beside its curve.


if DAA_CURVES:  # the arm is on (daa.losses): its scoring proxy exists

    rule train_daa:
        output:
            curve=f"{R}/daa/{{policy}}/{{loss}}/beta{{beta}}-s{{seed}}.csv",
            samples=f"{R}/daa/{{policy}}/{{loss}}/beta{{beta}}-s{{seed}}.samples.csv",
        input:
            policy=lambda wc: local_input(S.policy_ref(wc.policy)),
            pairs=rules.label_pairs.output[0],
            gold=local_input(T.gold.model),
            gold_norm=T.gold.norm,
            proxy=local_input(T[DAA_PROXY].model),
            proxy_norm=T[DAA_PROXY].norm,
            meta=T[DAA_PROXY].meta,
            prompts=rules.prompts.output[0],
            code=code("train_daa"),
        params:
            hp=lambda wc: S.daa(wc.policy, wc.loss, wc.beta, wc.seed),
            checkpoints=lambda wc: f"{R}/checkpoints/train_daa/{wc.policy}-{wc.loss}-beta{wc.beta}-s{wc.seed}",
        log:
            log("train_daa", "{policy}-{loss}-beta{beta}-s{seed}"),
        benchmark:
            bench("train_daa", "{policy}-{loss}-beta{beta}-s{seed}")
        conda:
            ENV_TORCH
        threads: 1
        resources:
            gpu=1,
        script:
            "../scripts/train_daa.py"
