# Aging analysis of one cell: merge its seed blocks, then Δ, D, Y, Q_ε, t*(t_w), the crossover, μ with
# its full uncertainty, the late-time
# behaviour of Δ and the parameter histograms. The p-spin glass cells run through the same rule.


rule aging:
    input:
        two_time=block_files("two_time"),
        snapshots=block_files("snapshots"),
        metrics=block_files("metrics"),
    output:
        paths.tables(paths.CELL, [*TABLES, *METRICS_TABLES]),
    log:
        "results/logs/aging/{experiment}/N{n}/{arch}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.aging_mem_mb,
        runtime=COSTS.aging_runtime_min,
    params:
        settings=aging_settings,
        lineage=lineage(paths.table(paths.CELL, "msd")),
        folder=paths.CELL,
        inputs=in_options("two_time", "snapshots", "metrics"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "aging --settings '{params.settings}' {params.inputs} --out folder={params.folder}"


use rule aging as aging_pspin with:
    input:
        two_time=paths.table(paths.PSPIN_RUN, "two_time"),
        snapshots=paths.table(paths.PSPIN_RUN, "snapshots"),
        metrics=[],
    output:
        paths.tables(paths.PSPIN_CELL, TABLES),
    log:
        "results/logs/aging/pspin/N{n}/T{temperature}.log",
    resources:
        mem_mb=COSTS.pspin_aging_mem_mb,
        runtime=COSTS.pspin_aging_runtime_min,
    params:
        settings=settings.as_json(settings.aging(PSPIN["analysis"], PSPIN["dt"])) if PSPIN else "",
        lineage=lineage(paths.table(paths.PSPIN_CELL, "msd")),
        folder=paths.PSPIN_CELL,


use rule aging as aging_ck with:
    input:
        two_time=paths.table(paths.CK_RUN, "two_time"),
        snapshots=[],
        metrics=[],
    output:
        paths.tables(paths.CK_CELL, CK_TABLES),
    log:
        "results/logs/aging/pspin_ck/N{size}/T{temperature}.log",
    wildcard_constraints:
        size=r"inf|\d+",
    resources:
        mem_mb=COSTS.ck_aging_mem_mb,
        runtime=COSTS.ck_aging_runtime_min,
    params:
        settings=settings.as_json(settings.aging(PSPIN["analysis"], PSPIN["dt"])) if PSPIN else "",
        lineage=lineage(paths.table(paths.CK_CELL, "msd")),
        folder=paths.CK_CELL,
