# Figures, from the tables only, exactly those the output registry declares for this config;
# registered in the Snakemake report with captions.


rule figures:
    output:
        **figure_outputs("figures"),
    input:
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        scaling=rules.fits.output.scaling,
        replication=rules.replication.output[0],
        code=code("figures"),
    params:
        hp=S.figures([f.name for f in outputs.figures(config, "figures")]),
    log:
        log("figures"),
    benchmark:
        bench("figures")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/figures.py"


rule rm_figures:
    output:
        **figure_outputs("rm_figures"),
    input:
        rm_eval=rules.rm_eval.output.rm_eval,
        correlations=rules.rm_eval.output.correlations,
        report_card=rules.rm_eval.output.report_card,
        predictors=rules.rm_eval.output.predictors,
        role_swap=rules.role_swap.output[0],
        teachers=rules.teachers.output.teachers,
        teacher_correlations=rules.teachers.output.correlations,
        rm_metrics=rules.rm_metrics.output[0],
        curves=rules.curves.output[0],
        code=code("rm_figures"),
    params:
        hp=S.figures([f.name for f in outputs.figures(config, "rm_figures")]),
    log:
        log("rm_figures"),
    benchmark:
        bench("rm_figures")
    conda:
        ENV_LIGHT
    threads: 1
    resources:
        gpu=0,
    script:
        "../scripts/rm_figures.py"
