# The tidy tables: one row per observation, each carrying its configuration.


rule rm_metrics:
    output:
        table("rm_metrics"),
    input:
        metrics=[t.meta for t in T.proxies],
        shift=[f"{R}/rms/{t.id}/ood_shift.json" for t in SHIFT_PROXIES],
        code=code("rm_metrics"),
    log:
        log("rm_metrics"),
    benchmark:
        bench("rm_metrics")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/rm_metrics.py"


rule curves:
    output:
        table("curves"),
    input:
        curves=[rules.bon_curves.output[0], *RL_CURVES, *DAA_CURVES],
        code=code("curves"),
    params:
        hp=S.curves(),
    log:
        log("curves"),
    benchmark:
        bench("curves")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/curves.py"


rule fits:
    output:
        fits=table("fits"),
        scaling=table("scaling"),
        length=table("length"),
    input:
        curves=rules.curves.output[0],
        bon_fits=rules.bon_fits.output[0],
        samples=RUN_SAMPLES,
        code=code("fits"),
    params:
        hp=S.fit(),
    log:
        log("fits"),
    benchmark:
        bench("fits")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/fits.py"


rule replication:
    output:
        report(f"{R}/tables/replication.csv", caption="../report/replication.rst", category=outputs.REPLICATION),
    input:
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        role_swap=rules.role_swap.output[0],
        rm_metrics=rules.rm_metrics.output[0],
        teachers=rules.teachers.output.teachers,
        code=code("replication"),
    params:
        hp=S.replication(),
    log:
        log("replication"),
    benchmark:
        bench("replication")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/replication.py"
