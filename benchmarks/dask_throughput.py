"""Throughput per dask worker of ``sklearn_sharprecl.deploy_dask.predict_dask``.

Fits one cheap SharpReCLClassifier (``contrastive=None``, one epoch, 120
synthetic support tickets: this measures inference, not the method), exports
it to ONNX and predicts a few thousand short synthetic tickets:

- in this process, ``ONNXTextClassifier.predict`` on one onnxruntime thread
  (the reference a worker is compared with);
- as a ``dask.dataframe`` text column on a ``LocalCluster`` of worker
  processes with one thread each, through ``predict_dask`` (one onnxruntime
  thread per worker thread): a cold pass (each worker loads the model) and
  the best of ``--repeats`` warm passes.

Texts per second per worker is the warm pass's texts per second divided by
the number of workers. The record also holds the machine, its load average
and CPU share busy with other work just before the measurement, the number of
model loads and of partitions per worker.

Writes ``results/dask_throughput.json`` and ``results/dask_throughput.md``.

    python -m benchmarks.dask_throughput                  # packaged MiniLM, 2000 texts, 2 workers
    python -m benchmarks.dask_throughput --note "a training job runs on the same cores"
    python -m benchmarks.dask_throughput --quick --encoder DIR --out DIR   # smoke run
"""

import argparse
import os
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sklearn_sharprecl import SharpReCLClassifier
from sklearn_sharprecl.datasets import make_support_tickets
from sklearn_sharprecl.deploy import ONNXTextClassifier
from sklearn_sharprecl.deploy_dask import cache_info, predict_dask

from .reporting.records import cpu_model, write_results

RESULTS = Path(__file__).resolve().parent / "results"
QUICK = {"n_texts": 200, "partitions": 4, "repeats": 1}


def cpu_busy_share(seconds=2.0):
    """Share of the machine's CPU time spent outside idle over ``seconds`` (from /proc/stat), or None."""
    def sample():
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def machine():
    """What the times were measured on, and how busy it was just before."""
    model = cpu_model()
    return {"cpu": model, "cores": os.cpu_count(), "load_average_1_5_15min": list(os.getloadavg()),
            "cpu_busy_share_before": cpu_busy_share(), "onnxruntime": version("onnxruntime"),
            "dask": version("dask"), "distributed": version("distributed")}


def fit_and_export(encoder, directory, max_length):
    texts, labels = make_support_tickets(n_samples=120, imbalance_ratio=10, random_state=0)
    clf = SharpReCLClassifier(encoder=encoder, max_length=max_length, max_epochs=1, contrastive=None,
                              random_state=0, precision="fp32")
    tic = time.perf_counter()
    clf.fit(texts, labels)
    fit_s = time.perf_counter() - tic
    return clf.export_onnx(directory), fit_s


def in_process(directory, texts, repeats):
    """Best-of-``repeats`` seconds of one process on one onnxruntime thread, after a warm-up."""
    model = ONNXTextClassifier.load(directory, intra_op_num_threads=1)
    model.predict(texts[:32])
    best = np.inf
    for _ in range(repeats):
        tic = time.perf_counter()
        labels = model.predict(texts)
        best = min(best, time.perf_counter() - tic)
    return best, labels


def on_cluster(directory, texts, n_workers, partitions, repeats):
    """Cold and best warm seconds of ``predict_dask`` on a LocalCluster, and what each worker did."""
    import dask.dataframe as dd
    from dask import distributed

    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        times = []
        for i in range(1 + repeats):
            # Each pass its own data (a pass number column), so its own graph keys: a pass never
            # reuses results of the previous one the scheduler still holds.
            frame = dd.from_pandas(pd.DataFrame({"text": texts, "run": i}), npartitions=partitions)
            frame = frame.persist()  # the texts on the workers: the passes time the prediction
            distributed.wait(frame)
            tic = time.perf_counter()
            labels = predict_dask(frame["text"], directory).compute()
            times.append(time.perf_counter() - tic)
        per_worker = client.run(cache_info)
    workers = [{"loads": info["loads"], "partitions": info["calls"]} for info in per_worker.values()]
    return times[0], min(times[1:]), labels.to_numpy(), workers


def run(args):
    texts, _ = make_support_tickets(n_samples=args.n_texts, imbalance_ratio=1, random_state=1)
    with tempfile.TemporaryDirectory() as scratch:
        directory, fit_s = fit_and_export(args.encoder, Path(scratch) / "export", args.max_length)
        before = machine()
        reference_s, reference = in_process(directory, texts, args.repeats)
        cold_s, warm_s, labels, workers = on_cluster(directory, texts, args.workers, args.partitions,
                                                     args.repeats)
    n = len(texts)
    return {
        "quick": args.quick, "note": args.note, "machine": before, "after_load_average_1min": os.getloadavg()[0],
        "encoder": args.encoder or "all-MiniLM-L6-v2 (packaged)", "max_length": args.max_length,
        "export": "ONNX fp32", "fit_s": fit_s, "n_texts": n,
        "mean_words_per_text": float(np.mean([len(t.split()) for t in texts])),
        "workers": args.workers, "threads_per_worker": 1, "onnxruntime_threads_per_worker": 1,
        "partitions": args.partitions, "repeats": args.repeats,
        "in_process_1_thread": {"seconds": reference_s, "texts_per_s": n / reference_s},
        "cluster": {"cold_seconds": cold_s, "warm_seconds": warm_s, "texts_per_s": n / warm_s,
                    "texts_per_s_per_worker": n / warm_s / args.workers,
                    "cold_texts_per_s": n / cold_s, "per_worker": workers},
        "same_labels_as_in_process": bool(np.array_equal(labels, reference)),
    }


def markdown(r):
    m, c = r["machine"], r["cluster"]
    command = "python -m benchmarks.dask_throughput" + (" --quick" if r["quick"] else "")
    busy = m["cpu_busy_share_before"]
    load = (f"Load just before: load average {m['load_average_1_5_15min'][0]:.2f} (1 min), "
            + (f"{100 * busy:.0f}% of the CPU time busy" if busy is not None else "CPU share unknown")
            + f"; {r['after_load_average_1min']:.2f} after.")
    loads = ", ".join(f"{w['loads']} load / {w['partitions']} partitions" for w in c["per_worker"])
    lines = [
        "# Batch prediction on dask: throughput per worker", "",
        f"Generated by `{command}`"
        + (" (a smoke run: tiny model and data, numbers mean nothing)" if r["quick"] else "")
        + f". {r['encoder']} exported to {r['export']} (max_length {r['max_length']}), {r['n_texts']} short "
        f"synthetic tickets ({r['mean_words_per_text']:.1f} words on average) in {r['partitions']} partitions, "
        f"`predict_dask` on a `LocalCluster` of {r['workers']} worker processes × 1 thread, one onnxruntime "
        f"thread each; best of {r['repeats']} warm passes. {m['cpu']}, {m['cores']} cores. {load}"
        + (f" {r['note']}" if r["note"] else ""), "",
        "| run | seconds | texts/s | texts/s per worker |", "|---|---|---|---|",
        f"| in-process, 1 thread (reference) | {r['in_process_1_thread']['seconds']:.2f} | "
        f"{r['in_process_1_thread']['texts_per_s']:.0f} | – |",
        f"| dask, {r['workers']} workers, cold (loads the model) | {c['cold_seconds']:.2f} | "
        f"{c['cold_texts_per_s']:.0f} | {c['cold_texts_per_s'] / r['workers']:.0f} |",
        f"| dask, {r['workers']} workers, warm | {c['warm_seconds']:.2f} | {c['texts_per_s']:.0f} | "
        f"{c['texts_per_s_per_worker']:.0f} |", "",
        f"Model loads per worker over all passes: {loads}. Labels identical to the in-process ones: "
        f"{'yes' if r['same_labels_as_in_process'] else 'no'}.", ""]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default=None, help="local encoder directory (default: packaged MiniLM)")
    parser.add_argument("--n-texts", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--note", default="", help="what else the machine was doing, for the record")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK['n_texts']} texts, one warm pass (needs --out)")
    parser.add_argument("--out", default=None, help="results folder (default: benchmarks/results)")
    args = parser.parse_args(argv)
    if args.quick and args.out is None:
        parser.error("--quick needs --out: a smoke run never replaces the recorded results")
    if args.quick:
        args.n_texts, args.partitions, args.repeats = QUICK["n_texts"], QUICK["partitions"], QUICK["repeats"]
    return args


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(1)  # the fit is tiny; leave the cores to the measurement
    results = run(args)
    write_results(results, "dask_throughput", markdown(results), Path(args.out) if args.out else RESULTS)
    return results


if __name__ == "__main__":
    main()
