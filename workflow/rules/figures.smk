# Figures (one named rule each: `snakemake --cores 2 fig2`; a figure that mixes data sets also has
# one rule per data set, e.g. `figB2_ljat19`, drawing only that data set) and the scorecards:
# results/scorecard.md of every experiment, results/scorecard_<dataset>.md of one data set's.

for figure, variant in figure_variants():

    rule:
        name:
            figure + (f"_{variant}" if variant else "")
        input:
            figure_inputs(figure, variant),
        output:
            pdf=f"{figure_path(figure, variant)}.pdf",
            png=report(
                f"{figure_path(figure, variant)}.png",
                caption=f"../report/{figure}.rst",
                category="Figures" if variant is None else f"Figures, {variant.upper()} only",
            ),
        log:
            f"results/logs/figures/{figure_path(figure, variant).removeprefix('results/figures/')}.log",
        localrule: True
        conda:
            "../../envs/glassynets.yaml"
        params:
            name=figure,
            options=figure_params(figure, variant),
        shell:
            "glassynets figure {params.name} {params.options} --out {output.pdf} > {log} 2>&1"


for dataset in [None, *DATASETS]:

    rule:
        name:
            "scorecard" + (f"_{dataset}" if dataset else "")
        input:
            scorecard_inputs(dataset),
        output:
            md=f"{scorecard_name(dataset)}.md",
            csv=report(
                f"{scorecard_name(dataset)}.csv",
                caption="../report/scorecard.rst",
                category="Scorecard",
            ),
        log:
            f"results/logs/{scorecard_name(dataset).split('/')[-1]}.log",
        localrule: True
        conda:
            "../../envs/glassynets.yaml"
        params:
            limits=" ".join(f"--limits {f}" for f in scorecard_limits(dataset)),
            cells=scorecard_cells(dataset),
            glass=" ".join(scorecard_glass(dataset)),
            tti_mu=config["scorecard"]["tti_mu"],
            loss_within=config["scorecard"]["loss_within"],
            grad_rms_after=config["scorecard"]["grad_rms_after"],
            alpha_max=config["scorecard"]["underparametrized_alpha"],
            accuracy_max=config["scorecard"]["underparametrized_accuracy"],
        shell:
            "glassynets scorecard {params.limits} --cells {params.cells} "
            "--loss-within {params.loss_within} --grad-rms-after {params.grad_rms_after} "
            "--underparametrized {params.alpha_max} {params.accuracy_max} --glass-cells {params.glass} --tti-mu {params.tti_mu} "
            "--out-md {output.md} --out-csv {output.csv} > {log} 2>&1"
