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
        mem_mb=hessian_mem_mb,
        runtime=hessian_runtime_min,
    params:
        options=hessian_options,
    shell:
        "glassynets hessian --snapshots {input.snapshots} --train {input.train} --test {input.test} "
        "{params.options} --threads {threads} "
        "--out-eigenvalues {output.eigenvalues} --out-summary {output.summary} > {log} 2>&1"
