"""GPU check: the CUDA-only tests, one TREC ir=50 SharpReCL fit in bf16, inference throughput.

Writes one JSON file (default ``benchmarks/results/gpu_check.json``), rewritten
after each step so that a run stopped part-way still leaves what it measured
(the steps not reached are ``null``). The three steps, on a machine with a
CUDA GPU:

1. ``pytest -m cuda tests``: the suite marks its GPU-only tests ``cuda``
   (they skip without a CUDA device), so here they run instead of skipping. Each test's outcome is
   recorded from pytest's JUnit XML.
2. ``SharpReCLClassifier(precision='bf16', random_state=0)`` (the packaged
   MiniLM, every other setting at its default) fitted on
   ``make_long_tailed(load_text_dataset('trec'), 50, random_state=0)``:
   fit time, macro-F1 on TREC's test split, and the peak GPU memory
   (``torch.cuda.max_memory_allocated``) of the fit.
3. ``predict_proba`` on the test split: texts per second, after one warm-up
   call, best and median of ``--repeats`` timed calls.

``--dry-run`` runs the same code on the CPU in seconds, to keep the script
from rotting: the CUDA tests are only collected, TREC is replaced by a small
synthetic dataset written as the same CSV files, the encoder by a tiny random
BERT, and the fit lasts one epoch. Usage::

    bash benchmarks/gpu_check.sh                      # on a CUDA machine
    python -m benchmarks.gpu_check --dry-run --output /tmp/gpu_check.json
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from sklearn_sharprecl import SharpReCLClassifier
# The versions a fitted model records (plus accelerate), reported before any fit.
from sklearn_sharprecl import show_versions
from sklearn_sharprecl.datasets import load_text_dataset, make_long_tailed, make_support_tickets

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO / "benchmarks" / "results" / "gpu_check.json"
DEFAULT_DATA = Path(os.environ.get("SHARPRECL_DATA", REPO.parent / "shared" / "datasets"))
SCHEMA_VERSION = 1
DATASET, IMBALANCE_RATIO, SEED = "trec", 50, 0
# The dry run's fit: one short epoch of a tiny encoder on the CPU.
DRY_RUN_PARAMS = dict(max_epochs=1, max_length=32, batch_size=16, criterion__n_neg=40, device="cpu")


def environment():
    """The machine, the GPU (or None) and the library versions."""
    cuda = torch.cuda.is_available()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": cuda,
        "device_name": torch.cuda.get_device_name(0) if cuda else None,
        "device_capability": list(torch.cuda.get_device_capability(0)) if cuda else None,
        "versions": show_versions(also=("accelerate",)),
    }


def junit_outcomes(xml_path):
    """``[{"nodeid", "outcome", "message"}]`` of a pytest JUnit XML report."""
    tests = []
    for case in ET.parse(xml_path).getroot().iter("testcase"):
        outcome, message = "passed", None
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "error"}.get(tag, tag)
                message = found.get("message")
                break
        path = case.get("classname", "").replace(".", "/")
        tests.append({"nodeid": f"{path}.py::{case.get('name')}", "outcome": outcome, "message": message})
    return tests


def collected_ids(stdout):
    """Node ids that ``pytest --collect-only -q`` printed."""
    return [line.strip() for line in stdout.splitlines() if "::" in line and not line.startswith(" ")]


def run_cuda_tests(collect_only, timeout_s=300):
    """Run (or, with ``collect_only``, only collect) the suite's ``cuda``-marked tests.

    Returns the step's record: the command, its exit status, the counts by
    outcome and every selected test with its outcome (``"collected"`` when
    only collected).
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "cuda", "tests"]
        command += ["--collect-only"] if collect_only else [f"--junitxml={report}", "-rs"]
        start = time.perf_counter()
        run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
        seconds = time.perf_counter() - start
        if collect_only:
            tests = [{"nodeid": i, "outcome": "collected", "message": None} for i in collected_ids(run.stdout)]
        else:
            tests = junit_outcomes(report) if report.exists() else []
    counts = {k: sum(t["outcome"] == k for t in tests)
              for k in ("passed", "failed", "error", "skipped", "collected")}
    return {"command": command[1:], "collect_only": collect_only, "returncode": run.returncode,
            "duration_s": round(seconds, 2), "counts": counts, "tests": tests,
            "output_tail": (run.stdout + run.stderr)[-3000:]}


def write_tiny_encoder(directory, texts):
    """A 2-layer, hidden-32 random BERT with a vocabulary of ``texts``' words, saved in ``directory``."""
    import re

    from transformers import BertConfig, BertModel, BertTokenizer

    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    (Path(directory) / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizer(vocab=str(Path(directory) / "vocab.txt"), do_lower_case=True).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(directory)
    return str(directory)


def write_dry_run_dataset(data_home):
    """Synthetic tickets as ``<data_home>/trec/{train,test}.csv``, the layout the loader reads."""
    import csv

    folder = Path(data_home) / DATASET
    folder.mkdir(parents=True)
    splits = {"train": make_support_tickets(n_samples=300, imbalance_ratio=1, random_state=0),
              "test": make_support_tickets(n_samples=60, imbalance_ratio=1, random_state=1)}
    for split, (texts, labels) in splits.items():
        with open(folder / f"{split}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(zip(texts, labels))
    return splits["train"][0]


def load_cell(data_home):
    """TREC's long-tailed (ir=50, seed 0) training split and its whole test split."""
    X, y = load_text_dataset(DATASET, "train", data_home=data_home, return_X_y=True)
    X, y = make_long_tailed(X, np.asarray(y), IMBALANCE_RATIO, random_state=SEED)
    X_test, y_test = load_text_dataset(DATASET, "test", data_home=data_home, return_X_y=True)
    return X, np.asarray(y), X_test, np.asarray(y_test)


def peak_memory():
    """Peak GPU memory allocated since the last reset, in bytes (None without CUDA)."""
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None


def synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def fit_cell(clf, X, y, X_test, y_test):
    """Fit ``clf`` and score it on the test split; the step's record."""
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    clf.fit(X, y)
    synchronize()
    seconds = time.perf_counter() - start
    peak = peak_memory()
    predicted = clf.predict(X_test)
    return {
        "dataset": DATASET, "imbalance_ratio": IMBALANCE_RATIO, "seed": SEED,
        "n_train": len(X), "n_test": len(X_test), "n_classes": len(clf.classes_),
        "class_counts": {str(c): int(n) for c, n in zip(clf.classes_, clf.class_counts_)},
        "precision": clf.precision, "precision_": clf.precision_,
        "device": str(next(clf.net_.module_.parameters()).device),
        "max_epochs": clf.max_epochs, "batch_size": clf.batch_size, "max_length": clf.max_length,
        "encoder": clf.encoder_name_,
        "fit_s": round(seconds, 3),
        "epoch_s": [round(float(d), 3) for d in clf.net_.history[:, "dur"]],
        "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        "accuracy": float(accuracy_score(y_test, predicted)),
        "peak_gpu_memory_bytes": peak,
        "peak_gpu_memory_mib": None if peak is None else round(peak / 2**20, 1),
    }


def inference_throughput(clf, X_test, repeats):
    """Texts per second of ``predict_proba`` on ``X_test``: one warm-up call, then ``repeats`` timed."""
    clf.predict_proba(X_test[:clf.batch_size])  # kernels chosen and loaded outside the timing
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    seconds = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        clf.predict_proba(X_test)
        synchronize()
        seconds.append(time.perf_counter() - start)
    peak = peak_memory()
    return {"n_texts": len(X_test), "batch_size": clf.batch_size, "repeats": repeats,
            "seconds": [round(s, 4) for s in seconds],
            "texts_per_s_best": len(X_test) / min(seconds),
            "texts_per_s_median": len(X_test) / statistics.median(seconds),
            "peak_gpu_memory_bytes": peak}


def write(record, output):
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(record, indent=2) + "\n")


def check_cuda(dry_run):
    """Refuse a real run without a CUDA device, saying which torch was found."""
    if not dry_run and not torch.cuda.is_available():
        sys.exit(f"No CUDA device is visible to torch {torch.__version__} ({sys.executable}); "
                 "run on a machine with a CUDA GPU (PYTHON=<a python whose torch has CUDA> "
                 "for gpu_check.sh), or pass --dry-run.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true",
                        help="on the CPU in seconds: collect the CUDA tests, tiny encoder, synthetic data")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding trec/ (real run)")
    parser.add_argument("--repeats", type=int, default=3, help="timed predict_proba calls")
    parser.add_argument("--encoder", default=None,
                        help="local encoder directory for the fit (default: the packaged MiniLM)")
    args = parser.parse_args(argv)
    check_cuda(args.dry_run)
    start = time.perf_counter()
    record = {"schema_version": SCHEMA_VERSION, "mode": "dry-run" if args.dry_run else "gpu",
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "wall_s": None, "environment": environment(), "cuda_tests": None, "trec_fit": None,
              "inference": None}
    write(record, args.output)
    record["cuda_tests"] = run_cuda_tests(collect_only=args.dry_run)
    write(record, args.output)
    with tempfile.TemporaryDirectory() as tmp:
        clf = SharpReCLClassifier(args.encoder, precision="bf16", random_state=SEED)
        data_home = args.data
        if args.dry_run:
            # Tiny matmuls: more threads than one only wait on each other.
            torch.set_num_threads(1)
            data_home = Path(tmp) / "data"
            encoder = write_tiny_encoder(Path(tmp), write_dry_run_dataset(data_home))
            clf.set_params(encoder=encoder, **DRY_RUN_PARAMS)
        X, y, X_test, y_test = load_cell(data_home)
        record["trec_fit"] = fit_cell(clf, X, y, X_test, y_test)
        write(record, args.output)
        record["inference"] = inference_throughput(clf, X_test, args.repeats)
    record["wall_s"] = round(time.perf_counter() - start, 1)
    write(record, args.output)
    tests = record["cuda_tests"]
    failed = tests["returncode"] != 0 or tests["counts"]["failed"] or tests["counts"]["error"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
