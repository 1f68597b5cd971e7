# The tidy tables: one row per observation, each carrying its configuration.


rule rm_metrics:
    output:
        f"{R}/tables/rm_metrics.csv",
    input:
        metrics=expand(f"{R}/rms/{{rm}}/metrics.json", rm=PROXY_IDS),
        code=deps.files("tables"),
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
        f"{R}/tables/curves.csv",
    input:
        curves=expand(f"{R}/bon/curves/{{rm}}.csv", rm=TARGETS),
        code=deps.files("tables"),
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
        fits=f"{R}/tables/fits.csv",
        scaling=f"{R}/tables/scaling.csv",
    input:
        curves=rules.curves.output[0],
        code=deps.files("tables", "fit"),
    params:
        hp=config["fit"],
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
