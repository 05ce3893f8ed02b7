"""benchmarks/gpu_check.sh and gpu_check.py: the dry run writes every field a GPU run writes.

The GPU run itself needs a CUDA machine; its dry run shares every step's code
with it (the CUDA tests only collected, synthetic data in TREC's file layout,
a tiny encoder), so a rename, a moved API or a lost field fails here.
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmarks import gpu_check

REPO = Path(__file__).resolve().parents[2]

FIELDS = {
    "schema_version", "mode", "created", "wall_s", "environment", "cuda_tests", "trec_fit", "inference",
}
ENVIRONMENT = {"python", "platform", "torch", "torch_cuda", "cuda_available", "device_name",
               "device_capability", "versions"}
CUDA_TESTS = {"command", "collect_only", "returncode", "duration_s", "counts", "tests", "output_tail"}
TREC_FIT = {"dataset", "imbalance_ratio", "seed", "n_train", "n_test", "n_classes", "class_counts",
            "precision", "precision_", "device", "max_epochs", "batch_size", "max_length", "encoder",
            "fit_s", "epoch_s", "macro_f1", "accuracy", "peak_gpu_memory_bytes", "peak_gpu_memory_mib"}
INFERENCE = {"n_texts", "batch_size", "repeats", "seconds", "texts_per_s_best", "texts_per_s_median",
             "peak_gpu_memory_bytes"}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The JSON of ``gpu_check.sh --dry-run`` and the completed process."""
    output = tmp_path_factory.mktemp("gpu-check") / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable}
    run = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run", "--repeats", "2",
                          "--output", str(output)], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return json.loads(output.read_text())


def test_dry_run_writes_every_field(dry_run):
    assert set(dry_run) == FIELDS
    assert set(dry_run["environment"]) == ENVIRONMENT
    assert set(dry_run["cuda_tests"]) == CUDA_TESTS
    assert set(dry_run["trec_fit"]) == TREC_FIT
    assert set(dry_run["inference"]) == INFERENCE
    assert dry_run["mode"] == "dry-run" and dry_run["schema_version"] == gpu_check.SCHEMA_VERSION
    assert dry_run["wall_s"] > 0
    assert dry_run["environment"]["versions"]["sklearn-sharprecl"]


def test_dry_run_selects_every_cuda_only_test(dry_run):
    tests = dry_run["cuda_tests"]
    assert tests["collect_only"] and tests["returncode"] == 0
    collected = {t["nodeid"].split("::")[1].split("[")[0] for t in tests["tests"]}
    # The marker makes a test CUDA-only (tests/conftest.py skips it without a device),
    # so what -m cuda collects is every such test.
    assert {"test_linear_probe_on_cuda_with_the_logit_adjusted_loss",
            "test_model_pickled_on_cuda_loads_on_the_cpu"} <= collected
    assert tests["counts"]["collected"] == len(tests["tests"])


def test_dry_run_fits_and_times_the_cell(dry_run):
    fit, inference = dry_run["trec_fit"], dry_run["inference"]
    # The synthetic "trec" folder, long-tailed at ir=50 as TREC is: 50 texts in
    # the largest class, 1 in the smallest.
    assert (fit["dataset"], fit["imbalance_ratio"]) == ("trec", 50)
    assert max(fit["class_counts"].values()) == 50 and min(fit["class_counts"].values()) == 1
    assert sum(fit["class_counts"].values()) == fit["n_train"]
    assert fit["precision_"] == "bf16" and fit["device"] == "cpu"
    assert fit["fit_s"] >= sum(fit["epoch_s"]) > 0 and len(fit["epoch_s"]) == fit["max_epochs"] == 1
    assert fit["peak_gpu_memory_bytes"] is None and fit["peak_gpu_memory_mib"] is None  # no CUDA
    assert inference["n_texts"] == fit["n_test"] and len(inference["seconds"]) == inference["repeats"] == 2
    # Throughputs are the texts over the fastest and over the median timed pass (the
    # passes are recorded to 0.1 ms).
    n, seconds = inference["n_texts"], inference["seconds"]
    assert inference["texts_per_s_best"] == pytest.approx(n / min(seconds), rel=0.01)
    assert inference["texts_per_s_median"] == pytest.approx(n / statistics.median(seconds), rel=0.01)


def test_junit_outcomes_reads_what_pytest_writes(tmp_path):
    # The GPU run reads the CUDA tests' outcomes from pytest's JUnit XML; the
    # dry run only collects, so the reader is checked on a report of its own.
    (tmp_path / "test_mini.py").write_text(
        "import pytest\n"
        "def test_ok(): pass\n"
        "def test_bad(): assert False, 'wrong'\n"
        "@pytest.mark.skipif(True, reason='no CUDA device')\n"
        "def test_gpu(): pass\n"
        "@pytest.fixture\n"
        "def broken(): raise RuntimeError('setup')\n"
        "def test_err(broken): pass\n")
    report = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mini.py",
                    f"--junitxml={report}"], cwd=tmp_path, capture_output=True, timeout=120)
    outcomes = {t["nodeid"]: (t["outcome"], t["message"]) for t in gpu_check.junit_outcomes(report)}
    assert {k: v[0] for k, v in outcomes.items()} == {
        "test_mini.py::test_ok": "passed", "test_mini.py::test_bad": "failed",
        "test_mini.py::test_gpu": "skipped", "test_mini.py::test_err": "error"}
    assert "no CUDA device" in outcomes["test_mini.py::test_gpu"][1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_a_gpu_run_without_cuda_is_refused_before_writing(tmp_path):
    output = tmp_path / "gpu_check.json"
    with pytest.raises(SystemExit, match="--dry-run"):
        gpu_check.main(["--output", str(output)])
    assert not output.exists()
