# Aging analysis of one cell: merge its seed blocks, then Δ, D, Y, t*(t_w), μ.


rule aging:
    input:
        snapshots=block_snapshots,
        metrics=block_metrics,
    output:
        expand(
            "results/tables/{{experiment}}/N{{n}}/{{arch}}/{table}.parquet",
            table=["metrics", "msd", "msd_runs", "tstar", "mu"],
        ),
    log:
        "results/logs/aging/{experiment}/N{n}/{arch}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=aging_mem_mb,
        runtime=aging_runtime_min,
    params:
        options=aging_options,
        folder="results/tables/{experiment}/N{n}/{arch}",
    shell:
        "glassynets aging --snapshots {input.snapshots} --metrics {input.metrics} {params.options} "
        "--out {params.folder} > {log} 2>&1"
