# The spherical p-spin glass (p = 3): Langevin dynamics after a quench, one job per (N, T) cell;
# its spins are stored like network parameters and analysed by rule aging_pspin.


rule pspin:
    output:
        snapshots=paths.table(paths.PSPIN_RUN, "snapshots"),
        energy=paths.table(paths.PSPIN_CELL, "energy"),
        two_time=paths.table(paths.PSPIN_RUN, "two_time"),
    log:
        "results/logs/pspin/N{n}/T{temperature}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.pspin_mem_mb,
        runtime=COSTS.pspin_runtime_min,
    params:
        settings=pspin_settings,
        lineage=lineage(paths.table(paths.PSPIN_RUN, "two_time")),
        # Not an output: Snakemake deletes outputs of failed jobs, and a resume needs these files.
        checkpoints=paths.PSPIN_CHECKPOINT,
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "pspin --settings '{params.settings}' --threads {threads} --checkpoint {params.checkpoints} "
        "--out snapshots={output.snapshots} --out energy={output.energy} --out two_time={output.two_time}"


# Its exact n = ∞ dynamics (the Cugliandolo–Kurchan equations, glassynets.ck) on the same grid:
# N = inf, or mapped to a simulated N; analysed by rule aging_ck like a one-run cell.
rule ck:
    output:
        two_time=paths.table(paths.CK_RUN, "two_time"),
        energy=paths.table(paths.CK_CELL, "energy"),
    log:
        "results/logs/ck/N{size}/T{temperature}.log",
    wildcard_constraints:
        size=r"inf|\d+",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.ck_mem_mb,
        runtime=COSTS.ck_runtime_min,
    params:
        settings=ck_settings,
        lineage=lineage(paths.table(paths.CK_RUN, "two_time")),
    shell:
        # numpy's BLAS does the work; its own threads on top of Snakemake's jobs oversubscribe
        "OPENBLAS_NUM_THREADS={threads} exec glassynets --log {log} --stop-with-parent $PPID "
        "--lineage {params.lineage} ck --settings '{params.settings}' "
        "--out two_time={output.two_time} --out energy={output.energy}"
