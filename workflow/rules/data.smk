# Data: LJAT19 regenerated from its physics (default, offline) or the published files, verified;
# image data sets from a local folder or the mirrors, verified.


rule ljat19_fetch_published:
    output:
        paths.LJAT19_PUBLISHED,
    log:
        "results/logs/ljat19_fetch_published/{split}.log",
    localrule: True
    conda:
        "../../envs/glassynets.yaml"
    params:
        settings=lambda w: settings.as_json(settings.ljat19_fetch(config, w.split)),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID "
        "ljat19-fetch --settings '{params.settings}' --out file={output}"


rule ljat19_train_set:
    input:
        published_file("train"),
    output:
        paths.LJAT19_TRAIN,
    log:
        "results/logs/ljat19_train_set/N{n}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=COSTS.ljat19_train_runtime_min,
    params:
        settings=ljat19_settings("train", LJAT["train_seed"]),
        published=published_input("train"),
        lineage=lineage(paths.LJAT19_TRAIN),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --settings '{params.settings}' {params.published} --out table={output}"


rule ljat19_test_set:
    input:
        published_file("test"),
    output:
        paths.LJAT19_TEST,
    log:
        "results/logs/ljat19_test_set.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["test_size"], 40),
        runtime=ljat19_runtime_min(LJAT["test_size"]),
    params:
        settings=ljat19_settings("test", LJAT["test_seed"], LJAT["test_size"]),
        published=published_input("test"),
        lineage=lineage(paths.LJAT19_TEST),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --settings '{params.settings}' {params.published} --out table={output}"


rule ljat19_limits_sample:
    input:
        published_file("test"),
    output:
        paths.LJAT19_LIMITS_SAMPLE,
    log:
        "results/logs/ljat19_limits_sample.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=ljat19_runtime_min(LJAT["limits_size"]),
    params:
        # n = 0: the whole published test file
        settings=ljat19_settings(
            "test", LJAT["limits_seed"], 0 if PUBLISHED else LJAT["limits_size"]
        ),
        published=published_input("test"),
        lineage=lineage(paths.LJAT19_LIMITS_SAMPLE),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-dataset --settings '{params.settings}' {params.published} --out table={output}"


rule ljat19_limits:
    input:
        paths.LJAT19_LIMITS_SAMPLE,
    output:
        paths.LJAT19_LIMITS,
    log:
        "results/logs/ljat19_limits.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(LJAT["limits_size"], 40),
        runtime=table_runtime_min(LJAT["limits_size"], 40),
    params:
        settings=settings.as_json({"features": LJAT["features"]}),
        lineage=lineage(paths.LJAT19_LIMITS),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "ljat19-limits --settings '{params.settings}' --in sample={input} --out limits={output}"


# Image data sets (MNIST, Fashion-MNIST): the four official files, verified, converted once to
# images tables, then subsets.


rule images_fetch:
    output:
        paths.IMAGES_RAW,
    log:
        "results/logs/images_fetch/{image_set}/{image_file}.log",
    localrule: True  # runs where the network is (the login node of a cluster); retries each mirror itself
    run:
        # run: rather than shell: so that where the files come from (a folder, mirrors) is not
        # part of the tracked command text: the bytes are verified, so changing the folder or the
        # mirrors must not refetch the files and retrain. tee shows an offline user what is missing.
        source = settings.as_json(settings.image_source(config, wildcards.image_set))
        shell(
            "glassynets images-fetch --settings '{source}' --out file={output} 2>&1 | tee {log}"
        )


rule images_convert:
    input:
        images=paths.IMAGES_RAW.format(
            image_set="{image_set}", image_file="{image_split}-images-idx3-ubyte.gz"
        ),
        labels=paths.IMAGES_RAW.format(
            image_set="{image_set}", image_file="{image_split}-labels-idx1-ubyte.gz"
        ),
    output:
        paths.IMAGES_SPLIT,
    log:
        "results/logs/images_convert/{image_set}/{image_split}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(60000, 784),
        runtime=table_runtime_min(60000, 784),
    params:
        settings=lambda w: settings.as_json({"dataset": w.image_set}),
        lineage=lineage(paths.IMAGES_SPLIT),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "images-convert --settings '{params.settings}' --in images={input.images} "
        "--in labels={input.labels} --out table={output}"


rule images_train_set:
    input:
        image_train_split,
    output:
        paths.IMAGES_TRAIN,
    log:
        "results/logs/images_train_set/{image_set}/N{n}.log",
    conda:
        "../../envs/glassynets.yaml"
    threads: 1
    resources:
        mem_mb=table_mem_mb(60000, 784),
        runtime=table_runtime_min(60000, 784),
    params:
        settings=lambda w: settings.as_json(
            {"n": int(w.n), **settings.images_subset(config, w.image_set)}
        ),
        lineage=lineage(paths.IMAGES_TRAIN),
    shell:
        "exec glassynets --log {log} --stop-with-parent $PPID --lineage {params.lineage} "
        "images-subset --settings '{params.settings}' --in split={input} --out table={output}"
