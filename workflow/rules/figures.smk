# Figures, from the tables only; registered in the Snakemake report with captions.


rule figures:
    output:
        bon_by_rm_size=figure("bon_by_rm_size", GAO),
        bon_by_data_size=figure("bon_by_data_size", GAO),
        bon_coefficients=figure("bon_coefficients", GAO),
        rl_by_rm_size=figure("rl_by_rm_size", GAO),
        rl_by_kl=figure("rl_by_kl", GAO),
        pdfs=expand(f"{R}/figures/{{f}}.pdf", f=FIGURE_NAMES),
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
