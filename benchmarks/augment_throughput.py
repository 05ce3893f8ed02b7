"""Throughput of the text augmentation presets, in texts per second.

Augments the first 500 TREC training questions with each preset of
``sklearn_sharprecl.augmentation.make_augmenter`` and writes
``benchmarks/results/augment_throughput.json`` and ``.md``, including five
WordNet augmentations (original -> augmented) for the docs.

Usage::

    python -m benchmarks.augment_throughput [--data PATH] [--n 500] [--repeats 3]
        [--contextual MASKED_LM_FOLDER]

The first call of an augmenter is timed separately: it pays for lazy loading
(WordNet files, the synonym cache); later calls, like later epochs of a fit,
reuse it. The "wordnet" preset needs WordNet prepared with
``sharprecl-prepare-wordnet``. "contextual" is measured only when a masked-LM
checkpoint folder is given (none ships with the package).
"""

import argparse
import json
import os
import platform
import statistics
import time
from importlib.metadata import version
from pathlib import Path

import pandas as pd

# The presets are timed on their own, outside a fit, built as the estimator builds them.
from sklearn_sharprecl.augmentation import make_augmenter

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "trec" / "train.csv"
RESULTS = REPO / "benchmarks" / "results"


def measure(augment, texts, repeats):
    """Build time, first-call time and median later-call time of one preset."""
    start = time.perf_counter()
    augmenter = make_augmenter(augment, random_state=0)
    build_s = time.perf_counter() - start
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        views = augmenter.augment(texts)
        times.append(time.perf_counter() - start)
    assert len(views) == len(texts)
    steady = statistics.median(times[1:])
    n_changed = sum(v != t for v, t in zip(views, texts, strict=True))
    return {
        "preset": augment if isinstance(augment, str) else augment[0],
        "build_s": round(build_s, 3),
        "first_call_s": round(times[0], 3),
        "first_call_texts_per_s": round(len(texts) / times[0], 1),
        "texts_per_s": round(len(texts) / steady, 1),
        "fraction_changed": round(n_changed / len(texts), 3),
    }


def wordnet_examples(texts, k=5):
    """The first `k` texts (file order) that the wordnet preset changes, seed 0."""
    views = make_augmenter("wordnet", random_state=0).augment(texts)
    return [{"original": t, "augmented": v} for t, v in zip(texts, views, strict=True) if v != t][
        :k
    ]


def to_markdown(report):
    lines = [
        "# Augmentation throughput",
        "",
        f"{report['n_texts']} TREC train questions (`{report['data']}`), "
        f"{report['machine']}; median of {report['repeats']} calls after the first.",
        "",
        "| preset | texts/s | first call texts/s | build (s) | texts changed |",
        "|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(
            f"| {r['preset']} | {r['texts_per_s']} | {r['first_call_texts_per_s']} | "
            f"{r['build_s']} | {r['fraction_changed']:.0%} |"
        )
    for preset, why in report["not_measured"].items():
        lines.append(f"| {preset} | not measured: {why} | | | |")
    lines += ["", "## WordNet examples (random_state=0)", ""]
    lines += [f"- `{e['original']}` → `{e['augmented']}`" for e in report["wordnet_examples"]]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="TREC train.csv")
    parser.add_argument("--n", type=int, default=500, help="number of texts")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first")
    parser.add_argument("--contextual", default=None, help="masked-LM checkpoint folder")
    parser.add_argument("--out", default=str(RESULTS), help="output folder")
    args = parser.parse_args(argv)

    frame = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    texts = frame["text"].tolist()[: args.n]

    presets = ["wordnet", "random_swap", "random_delete"]
    not_measured = {
        "dropout": "no text change (make_augmenter returns None)",
    }
    if args.contextual:
        presets.append(f"contextual:{args.contextual}")
    else:
        not_measured["contextual"] = "no masked-LM checkpoint given (--contextual)"

    results = []
    for preset in presets:
        results.append(measure(preset, texts, args.repeats))
        print(results[-1])

    report = {
        "benchmark": "augment_throughput",
        "data": os.path.relpath(args.data, REPO),
        "n_texts": len(texts),
        "repeats": args.repeats,
        "machine": f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "versions": {p: version(p) for p in ("nlpaug", "nltk", "transformers", "numpy")},
        "results": results,
        "not_measured": not_measured,
        "wordnet_examples": wordnet_examples(texts),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "augment_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "augment_throughput.md").write_text(to_markdown(report))
    print(to_markdown(report))


if __name__ == "__main__":
    main()
