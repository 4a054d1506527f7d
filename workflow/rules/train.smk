# Training: one job per block of seeds of one (experiment, N, architecture) cell.


rule train:
    input:
        unpack(train_inputs),
    output:
        snapshots="results/runs/{experiment}/N{n}/{arch}/seeds{first}-{last}/snapshots.parquet",
        metrics="results/runs/{experiment}/N{n}/{arch}/seeds{first}-{last}/metrics.parquet",
        two_time="results/runs/{experiment}/N{n}/{arch}/seeds{first}-{last}/two_time.parquet",
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
        lineage=lineage(
            "results/runs/{experiment}/N{n}/{arch}/seeds{first}-{last}/two_time.parquet"
        ),
        # Not an output: Snakemake deletes outputs of failed jobs, and a resume needs this file.
        checkpoint="results/checkpoints/{experiment}/N{n}/{arch}/seeds{first}-{last}.pt",
        checkpoint_every_s=config["checkpoint_every_s"],
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "train --settings '{params.settings}' --in train={input.train} --in test={input.test} "
        "--threads {threads} "
        "--checkpoint {params.checkpoint} --checkpoint-every-s {params.checkpoint_every_s} "
        "--out snapshots={output.snapshots} --out metrics={output.metrics} --out two_time={output.two_time}"
