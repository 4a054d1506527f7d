# Training: one job per block of seeds of one (experiment, N, architecture) cell.


rule train:
    input:
        unpack(train_inputs),
    output:
        snapshots=paths.table(paths.RUN_BLOCK, "snapshots"),
        metrics=paths.table(paths.RUN_BLOCK, "metrics"),
        two_time=paths.table(paths.RUN_BLOCK, "two_time"),
    log:
        "results/logs/train/{experiment}/N{n}/{arch}/seeds{first}-{last}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=COSTS.train_mem_mb,
        runtime=COSTS.train_runtime_min,
        gpu=COSTS.train_gpus,
    params:
        settings=train_settings,
        lineage=lineage(paths.table(paths.RUN_BLOCK, "two_time")),
        # Not an output: Snakemake deletes outputs of failed jobs, and a resume needs this file.
        checkpoint=paths.CHECKPOINT,
        checkpoint_every_s=config["checkpoint_every_s"],
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "train --settings '{params.settings}' --train {input.train} --test {input.test} "
        "--n-train {wildcards.n} --arch {wildcards.arch} --seeds {wildcards.first}-{wildcards.last} "
        "--threads {threads} "
        "--checkpoint {params.checkpoint} --checkpoint-every-s {params.checkpoint_every_s} "
        "--out-snapshots {output.snapshots} --out-metrics {output.metrics} --out-two-time {output.two_time}"
