# The spherical p-spin glass (p = 3): Langevin dynamics after a quench, one job per (N, T) cell;
# its spins are stored like network parameters and analysed by rule aging_pspin.


rule pspin:
    output:
        snapshots="results/runs/pspin/N{n}/T{temperature}/snapshots.parquet",
        energy="results/tables/pspin/N{n}/T{temperature}/energy.parquet",
        two_time="results/runs/pspin/N{n}/T{temperature}/two_time.parquet",
    log:
        "results/logs/pspin/N{n}/T{temperature}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.pspin_mem_mb,
        runtime=COSTS.pspin_runtime_min,
    params:
        settings=settings.as_json(settings.pspin(config)) if PSPIN else "",
        lineage=lineage("results/runs/pspin/N{n}/T{temperature}/two_time.parquet"),
        # Not an output: Snakemake deletes outputs of failed jobs, and a resume needs these files.
        checkpoints="results/checkpoints/pspin/N{n}/T{temperature}",
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "pspin --settings '{params.settings}' --n {wildcards.n} --temperature {wildcards.temperature} "
        "--threads {threads} --checkpoint-dir {params.checkpoints} "
        "--out-snapshots {output.snapshots} --out-energy {output.energy} --out-two-time {output.two_time}"
