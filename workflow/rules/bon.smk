# Best-of-n against every scored target, from the reference pool's scores: the estimator is
# exact and cheap, so one job computes every target's curve.


rule bon_curves:
    output:
        f"{R}/bon/curves.csv",
    input:
        scores=[f"{R}/reference/scores/{t.id}.npy" for t in T.scored],
        metas=[t.meta for t in T.scored],
        code=code("bon_curves"),
    params:
        hp=S.bon(),
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


rule bon_fits:
    output:
        f"{R}/bon/fits.csv",
    input:
        scores=[f"{R}/reference/scores/{t.id}.npy" for t in T.scored],
        metas=[t.meta for t in T.scored],
        code=code("bon_fits"),
    params:
        hp=S.bon_fit(),
    log:
        log("bon_fits"),
    benchmark:
        bench("bon_fits")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/bon_fits.py"
