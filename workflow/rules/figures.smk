# Figures of the paper (one named rule each: `snakemake --cores 2 fig2`) and the scorecard.

for figure in figures():

    rule:
        name:
            figure
        input:
            cell_table_files(figure_cells(figure)),
        output:
            pdf=f"results/figures/{figure}.pdf",
            png=report(
                f"results/figures/{figure}.png",
                caption=f"../report/{figure}.rst",
                category="Figures",
            ),
        log:
            f"results/logs/figures/{figure}.log",
        localrule: True
        conda:
            "../../envs/glassynets.yaml"
        params:
            name=figure,
            cells=" ".join(figure_cells(figure)),
            plot_tw=" ".join(
                str(t)
                for t in experiment(FIGURE_EXPERIMENTS[figure])["analysis"]["plot_tw"]
            ),
        shell:
            "glassynets figure {params.name} --cells {params.cells} --plot-tw {params.plot_tw} "
            "--out {output.pdf} > {log} 2>&1"


rule scorecard:
    input:
        scorecard_inputs,
    output:
        md="results/scorecard.md",
        csv=report(
            "results/scorecard.csv",
            caption="../report/scorecard.rst",
            category="Scorecard",
        ),
    log:
        "results/logs/scorecard.log",
    localrule: True
    conda:
        "../../envs/glassynets.yaml"
    params:
        cells=scorecard_cells(),
        loss_within=config["scorecard"]["loss_within"],
        grad_rms_after=config["scorecard"]["grad_rms_after"],
    shell:
        "glassynets scorecard --limits results/tables/ljat19_limits.json --cells {params.cells} "
        "--loss-within {params.loss_within} --grad-rms-after {params.grad_rms_after} "
        "--out-md {output.md} --out-csv {output.csv} > {log} 2>&1"
