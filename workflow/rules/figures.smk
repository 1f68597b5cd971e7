# Figures, from the tables only.


rule figures:
    output:
        FIGURES,
    input:
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        scaling=rules.fits.output.scaling,
        code=deps.files("figures"),
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
