# Figures, from the tables only; registered in the Snakemake report with captions.


rule figures:
    output:
        pngs=[figure(name, paper) for name, paper in FIGURE_PAPERS.items()],
        pdfs=expand(f"{R}/figures/{{f}}.pdf", f=FIGURE_NAMES),
    input:
        curves=rules.curves.output[0],
        fits=rules.fits.output.fits,
        scaling=rules.fits.output.scaling,
        code=deps.files("figures"),
    params:
        hp={"rl_algorithm": config["rl"]["algorithms"][0], "objective": config["proxy"]["objectives"][0]},
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
