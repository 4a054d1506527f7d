# Figures of the paper (one named rule each: `snakemake --cores 2 fig2`) and the scorecards:
# results/scorecard.md of every experiment, results/scorecard_<dataset>.md of one data set's.

for figure in figures():

    rule:
        name:
            figure
        input:
            figure_inputs(figure),
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
                for t in experiment(figure_experiments(figure)[0])["analysis"]["plot_tw"]
            ),
        shell:
            "glassynets figure {params.name} --cells {params.cells} --plot-tw {params.plot_tw} "
            "--out {output.pdf} > {log} 2>&1"


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
            loss_within=config["scorecard"]["loss_within"],
            grad_rms_after=config["scorecard"]["grad_rms_after"],
            alpha_max=config["scorecard"]["underparametrized_alpha"],
            accuracy_max=config["scorecard"]["underparametrized_accuracy"],
        shell:
            "glassynets scorecard {params.limits} --cells {params.cells} "
            "--loss-within {params.loss_within} --grad-rms-after {params.grad_rms_after} "
            "--underparametrized {params.alpha_max} {params.accuracy_max} "
            "--out-md {output.md} --out-csv {output.csv} > {log} 2>&1"
