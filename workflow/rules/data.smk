# Data: LJAT19 regenerated from its physics (default, offline) or the published files, verified;
# image data sets from a local folder or the mirrors, verified.


rule ljat19_fetch_published:
    output:
        "resources/ljat19/published/{split}.verified",
    log:
        "results/logs/ljat19_fetch_published/{split}.log",
    localrule: True
    conda:
        "../../envs/glassynets.yaml"
    params:
        source=lambda w: LJAT["published"][w.split],
        sha256=lambda w: LJAT["published"][f"{w.split}_sha256"],
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID "
        "ljat19-fetch --source {params.source} --sha256 {params.sha256} --out {output}"


rule ljat19_train_set:
    input:
        published_file("train"),
    output:
        "resources/ljat19/train_N{n}.parquet",
    log:
        "results/logs/ljat19_train_set/N{n}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=COSTS.ljat19_train_runtime_min,
    params:
        source=ljat19_source("train", LJAT["train_seed"]),
        lineage=lineage("resources/ljat19/train_N{n}.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --n {wildcards.n} {params.source} --out {output}"


rule ljat19_test_set:
    input:
        published_file("test"),
    output:
        "resources/ljat19/test.parquet",
    log:
        "results/logs/ljat19_test_set.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["test_size"], 40),
        runtime=ljat19_runtime_min(LJAT["test_size"]),
    params:
        n=LJAT["test_size"],
        source=ljat19_source("test", LJAT["test_seed"]),
        lineage=lineage("resources/ljat19/test.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --n {params.n} {params.source} --out {output}"


rule ljat19_limits_sample:
    input:
        published_file("test"),
    output:
        "resources/ljat19/limits_sample.parquet",
    log:
        "results/logs/ljat19_limits_sample.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=ljat19_runtime_min(LJAT["limits_size"]),
    params:
        n=0 if PUBLISHED else LJAT["limits_size"],  # 0: the whole published test file
        source=ljat19_source("test", LJAT["limits_seed"]),
        lineage=lineage("resources/ljat19/limits_sample.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --n {params.n} {params.source} --out {output}"


rule ljat19_limits:
    input:
        "resources/ljat19/limits_sample.parquet",
    output:
        "results/tables/ljat19_limits.json",
    log:
        "results/logs/ljat19_limits.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=table_runtime_min(LJAT["limits_size"], 40),
    params:
        features=" ".join(LJAT["features"]),
        lineage=lineage("results/tables/ljat19_limits.json"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-limits --sample {input} --features {params.features} --out {output}"


# Image data sets (MNIST, Fashion-MNIST): the four official files, verified, converted once to
# images tables, then subsets.


rule images_fetch:
    output:
        "resources/{image_set}/raw/{image_file}",
    log:
        "results/logs/images_fetch/{image_set}/{image_file}.log",
    localrule: True  # runs where the network is (the login node of a cluster); retries each mirror itself
    run:
        # run: rather than shell: so that the source options below (see image_fetch_options) are
        # not part of the tracked command text; tee shows an offline user what is missing.
        options = image_fetch_options(wildcards.image_set)
        shell("glassynets images-fetch {options} --out {output} 2>&1 | tee {log}")


rule images_convert:
    input:
        images="resources/{image_set}/raw/{image_split}-images-idx3-ubyte.gz",
        labels="resources/{image_set}/raw/{image_split}-labels-idx1-ubyte.gz",
    output:
        "resources/{image_set}/{image_split}.parquet",
    log:
        "results/logs/images_convert/{image_set}/{image_split}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(60000, 784),
        runtime=table_runtime_min(60000, 784),
    params:
        lineage=lineage("resources/{image_set}/{image_split}.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "images-convert --dataset {wildcards.image_set} --images {input.images} "
        "--labels {input.labels} --out {output}"


rule images_train_set:
    input:
        image_train_split,
    output:
        "resources/{image_set}/train_N{n}.parquet",
    log:
        "results/logs/images_train_set/{image_set}/N{n}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(60000, 784),
        runtime=table_runtime_min(60000, 784),
    params:
        subset=lambda wildcards: config[wildcards.image_set]["subset"],
        seed=lambda wildcards: config[wildcards.image_set]["subset_seed"],
        lineage=lineage("resources/{image_set}/train_N{n}.parquet"),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "images-subset --split {input} --n {wildcards.n} --subset {params.subset} "
        "--seed {params.seed} --out {output}"
