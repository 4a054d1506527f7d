# Hessian spectra of the full-batch training loss at chosen steps of a cell's first runs.


rule hessian:
    input:
        unpack(hessian_inputs),
    output:
        eigenvalues=paths.table(paths.CELL, "hessian"),
        summary=paths.table(paths.CELL, "hessian_summary"),
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
        lineage=lineage(paths.table(paths.CELL, "hessian")),
        inputs=in_options("snapshots", "train", "test"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "hessian --settings '{params.settings}' {params.inputs} --threads {threads} "
        "--out eigenvalues={output.eigenvalues} --out summary={output.summary}"
