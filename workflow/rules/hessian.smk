# Hessian spectra of the full-batch training loss at chosen steps of a cell's first runs.


rule hessian:
    input:
        unpack(hessian_inputs),
    output:
        eigenvalues="results/tables/{experiment}/N{n}/{arch}/hessian.parquet",
        summary="results/tables/{experiment}/N{n}/{arch}/hessian_summary.parquet",
    log:
        "results/logs/hessian/{experiment}/N{n}/{arch}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.hessian_mem_mb,
        runtime=COSTS.hessian_runtime_min,
    params:
        settings=hessian_settings,
        lineage=lineage("results/tables/{experiment}/N{n}/{arch}/hessian.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "hessian --settings '{params.settings}' --snapshots {input.snapshots} "
        "--train {input.train} --test {input.test} --threads {threads} "
        "--out-eigenvalues {output.eigenvalues} --out-summary {output.summary}"
