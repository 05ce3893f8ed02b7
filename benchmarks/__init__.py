"""The benchmark of sklearn-sharprecl: run records in, tables and figures out.

Run from the repository root, as modules of this package::

    python -m benchmarks.run --profile quick     # the run records, results/runs/*.json
    python -m benchmarks.report                  # every table, figure and README.md from them
    python -m benchmarks.study_report            # results/study.md, the method study's tables

Each other module measures one thing and writes its own json and table in
``results/`` (``speed``, ``precision``, ``quantization``, ``deployment``,
``augment_throughput``, ``calora_conll``, ``gpu_check``). ``methods`` is the
registry of methods, recipes and profiles that every one of them reads;
``reporting`` builds the tables from the records without importing torch.
"""
