# Figures (one named rule each: `snakemake --cores 2 fig2`; a figure that mixes data sets also has
# one rule per data set, e.g. `figB2_ljat19`, drawing only that data set) and the scorecards:
# results/scorecard.md of every experiment, results/scorecard_<dataset>.md of one data set's.

for figure, variant in TARGETS.figure_variants():

    rule:
        name:
            figure + (f"_{variant}" if variant else "")
        input:
            TARGETS.figure_inputs(figure, variant),
        output:
            pdf=f"{TARGETS.figure_path(figure, variant)}.pdf",
            png=report(
                f"{TARGETS.figure_path(figure, variant)}.png",
                caption=f"../report/{figure}.rst",
                category="Figures" if variant is None else f"Figures, {variant.upper()} only",
            ),
        log:
            TARGETS.figure_log(figure, variant),
        localrule: True
        conda:
            "../../envs/glassynets.yaml"
        params:
            settings=settings.as_json(settings.figure(config, figure, variant)),
            inputs=jobs.in_options(TARGETS.figure_stage_inputs(figure, variant)),
            lineage=LINEAGE.of(f"{TARGETS.figure_path(figure, variant)}.png"),
        shell:
            "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
            "figure --settings '{params.settings}' {params.inputs} --out pdf={output.pdf}"


for dataset in [None, *TARGETS.datasets]:

    rule:
        name:
            "scorecard" + (f"_{dataset}" if dataset else "")
        input:
            TARGETS.scorecard_inputs(dataset),
        output:
            md=f"{TARGETS.scorecard_name(dataset)}.md",
            csv=report(
                f"{TARGETS.scorecard_name(dataset)}.csv",
                caption="../report/scorecard.rst",
                category="Scorecard",
            ),
        log:
            f"results/logs/{TARGETS.scorecard_name(dataset).split('/')[-1]}.log",
        localrule: True
        conda:
            "../../envs/glassynets.yaml"
        params:
            settings=settings.as_json(settings.scorecard(config, dataset)),
            inputs=jobs.in_options(TARGETS.scorecard_stage_inputs(dataset)),
            lineage=LINEAGE.of(f"{TARGETS.scorecard_name(dataset)}.md"),
        shell:
            "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
            "scorecard --settings '{params.settings}' {params.inputs} "
            "--out md={output.md} --out csv={output.csv}"
