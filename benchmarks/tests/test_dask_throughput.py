"""benchmarks/dask_throughput.py: a smoke run on the tiny encoder predicts on two workers that
load the model once each; a smoke run never writes into the recorded results."""

import json

import pytest

from benchmarks import dask_throughput
from sklearn_sharprecl.datasets import make_support_tickets


def test_dask_throughput_quick_run(tiny_encoder, tmp_path):
    results = dask_throughput.main(["--quick", "--encoder", tiny_encoder, "--out", str(tmp_path),
                                    "--note", "smoke"])
    cluster = results["cluster"]
    n = len(make_support_tickets(n_samples=200, imbalance_ratio=1, random_state=1)[0])
    assert results["n_texts"] == n and results["workers"] == 2
    assert results["same_labels_as_in_process"]
    # Two passes (cold + one warm) of 4 partitions, each worker loading the model once.
    assert sum(w["partitions"] for w in cluster["per_worker"]) == 8
    assert [w["loads"] for w in cluster["per_worker"]] == [1, 1]
    assert cluster["texts_per_s_per_worker"] == pytest.approx(n / cluster["warm_seconds"] / 2)
    saved = json.loads((tmp_path / "dask_throughput.json").read_text())
    assert saved["machine"]["cores"] >= 1 and len(saved["machine"]["load_average_1_5_15min"]) == 3
    table = (tmp_path / "dask_throughput.md").read_text()
    assert "| dask, 2 workers, warm |" in table and "smoke run" in table and "smoke" in saved["note"]


def test_dask_throughput_quick_run_needs_its_own_folder():
    with pytest.raises(SystemExit):
        dask_throughput.parse_args(["--quick"])
