"""Numbers about the runs that the reading states, computed from the records.

Every function takes the grid of :func:`reporting.records.index_runs`
(``{(dataset, ratio): {method: {seed: record}}}``) or a record, and returns
numbers (scores in %, differences in points of %), or ``None`` / an empty
result when the records it needs are not there, so the reading can leave a
sentence out instead of stating a stale number.
"""

import json
import math
import re
from pathlib import Path

import numpy as np

from ..methods import CALORA_BASES, CLASSIC, MAIN
from .order import ALL_METHODS
from .records import all_records
from .stats import paired, pair_of_diffs, summarize

# ------------------------------------------------------------------ access


def runs(grid, cell, method):
    """``{seed: record}`` of ``method`` in ``cell`` (empty if none)."""
    return dict(grid.get(cell, {}).get(method, {}))


def score(grid, cell, method, seed, metric="macro_f1"):
    """The metric in % of one run, ``None`` if there is no such run."""
    rec = runs(grid, cell, method).get(seed)
    return None if rec is None else 100 * rec[metric]


def seed_scores(grid, cell, method, metric="macro_f1"):
    """``[(seed, metric in %)]`` in seed order."""
    return [(s, 100 * r[metric]) for s, r in sorted(runs(grid, cell, method).items())]


def summary(grid, cell, method, metric="macro_f1"):
    """``(mean, sd, n)`` over the seeds, in %."""
    return summarize([v for _, v in seed_scores(grid, cell, method, metric)])


def pair(grid, cell, a, b, metric="macro_f1"):
    """A minus B on their common seeds (points of %), see :func:`reporting.stats.paired`."""
    return paired(runs(grid, cell, a), runs(grid, cell, b), metric)


def class_stat(rec, label, field):
    """``per_class[label][field]`` of a record (F1, recall, precision as fractions; test_support)."""
    return rec["per_class"][label][field]


def train_counts(grid, cell):
    """The training class counts of ``cell`` if every record agrees on them, else ``None``."""
    counts = {json.dumps(r["train_class_counts"], sort_keys=True) for r in all_records(grid, [cell])
              if "train_class_counts" in r}
    return json.loads(counts.pop()) if len(counts) == 1 else None


def test_support(grid, cell):
    """``{class: test examples}`` of ``cell`` (the test split is the same for every run)."""
    for rec in all_records(grid, [cell]):
        return {c: v["test_support"] for c, v in rec["per_class"].items()}
    return {}


def n_classes(grid, cell):
    return len(test_support(grid, cell))


def rarest_class(grid, cell):
    """The class with the fewest training examples, with its training and test shares."""
    counts, support = train_counts(grid, cell), test_support(grid, cell)
    if not counts or not support:
        return None
    label = min(counts, key=lambda c: (counts[c], c))
    return {"label": label, "train": counts[label], "test": support[label],
            "train_share": counts[label] / sum(counts.values()), "test_share": support[label] / sum(support.values())}


def config_values(grid, cells, key):
    """The distinct ``config[key]`` values of the records of ``cells``."""
    return sorted({r.get("config", {}).get(key) for r in all_records(grid, cells)} - {None})


def frozen_layers(record, layers):
    """Encoder layers a neural run kept frozen: ``layers - train_layers`` with the
    cache (since session 4), ``freeze_layers`` under skorch's Freezer before."""
    config = record.get("config", {})
    if config.get("train_layers") and layers:
        return layers - config["train_layers"]
    return config.get("freeze_layers", 0)


def layers_of(encoder):
    """Transformer layers from an encoder name such as ``all-MiniLM-L6-v2`` (``None`` if not in the name)."""
    match = re.search(r"-L(\d+)\b", encoder or "")
    return int(match.group(1)) if match else None


# ------------------------------------------------------------------ comparisons


def best_of(grid, cell, methods, metric="macro_f1"):
    """``(method, mean)`` of the best mean among ``methods`` that ran in ``cell``."""
    means = [(m, summary(grid, cell, m, metric)[0]) for m in methods if runs(grid, cell, m)]
    return max(means, key=lambda mv: mv[1], default=None)


def best_classic(grid, cell):
    return best_of(grid, cell, CLASSIC)


def min_gap_to(grid, cell, method, others):
    """``(mean of method) − (best mean of others)`` and that best ``(name, mean)``."""
    best = best_of(grid, cell, others)
    if best is None or not runs(grid, cell, method):
        return None
    return summary(grid, cell, method)[0] - best[1], best


def class_share_of_gap(grid, cell, a, b, label):
    """Per paired seed, ``(F1_a − F1_b of class label) / C`` in points of macro-F1: how much of
    a macro-F1 gap that one class carries."""
    ra, rb = runs(grid, cell, a), runs(grid, cell, b)
    seeds = sorted(set(ra) & set(rb))
    c = n_classes(grid, cell)
    diffs = [100 * (class_stat(ra[s], label, "f1") - class_stat(rb[s], label, "f1")) / c for s in seeds]
    return pair_of_diffs(diffs, seeds)


def others_mean_f1(rec, label):
    """Mean F1 (fraction) of every class except ``label``."""
    return float(np.mean([v["f1"] for c, v in rec["per_class"].items() if c != label]))


def predicted_share(rec, label, n_test):
    """Share of the test set predicted as ``label``: recall × support / precision / n_test."""
    recall, precision = class_stat(rec, label, "recall"), class_stat(rec, label, "precision")
    if precision == 0:
        return 0.0
    return recall * class_stat(rec, label, "test_support") / precision / n_test


def false_positives(rec, label):
    """False positives of ``label`` (from recall, precision and support; rounded)."""
    tp = class_stat(rec, label, "recall") * class_stat(rec, label, "test_support")
    precision = class_stat(rec, label, "precision")
    return 0 if precision == 0 else int(round(tp / precision - tp))


def marginal_fp_cost(rec, label, c):
    """Points of macro-F1 that one more false positive of ``label`` costs through that class's F1
    alone, at the run's counts (F1 = 2TP / (2TP + FP + FN))."""
    support = class_stat(rec, label, "test_support")
    tp = round(class_stat(rec, label, "recall") * support)
    fn, fp = support - tp, false_positives(rec, label)
    f1 = lambda fp_: 2 * tp / (2 * tp + fp_ + fn) if tp else 0.0  # noqa: E731
    return 100 * (f1(fp) - f1(fp + 1)) / c


def train_prior_shifts(grid, cell, methods):
    """``[(method, seed, macro-F1 as fitted, macro-F1 decided under the training prior)]`` (%)
    of the runs that recorded the ``train_prior_decision`` diagnostic."""
    out = []
    for m in methods:
        for s, rec in sorted(runs(grid, cell, m).items()):
            if "train_prior_decision" in rec:
                out.append((m, s, 100 * rec["macro_f1"], 100 * rec["train_prior_decision"]["macro_f1"]))
    return out


def prior_weights(counts):
    """The paper's contrastive weights δ_c = −log π_c of the training prior, per class, and their
    mean over a batch drawn from that prior (Σ π_c δ_c, the prior's entropy in nats)."""
    total = sum(counts.values())
    pi = {c: n / total for c, n in counts.items()}
    weights = {c: -math.log(p) for c, p in pi.items()}
    return weights, sum(pi[c] * weights[c] for c in pi)


# ------------------------------------------------------------------ training curves and tails


def still_climbing(rec):
    """Whether the validation macro-F1 was best at the last epoch run."""
    curve = rec.get("valid_f1_macro") or []
    return bool(curve) and curve[-1] >= max(curve)


def tail_summary(rec, max_train):
    """Over the classes with at most ``max_train`` training examples and the others:
    ``{"n_tail", "tail_f1", "head_f1", "zero_f1"}`` (F1 as fractions; zero_f1 over all classes)."""
    counts = rec["train_class_counts"]
    tail = [c for c in counts if counts[c] <= max_train]
    head = [c for c in counts if counts[c] > max_train]
    f1 = {c: rec["per_class"][c]["f1"] for c in counts}
    return {"n_tail": len(tail), "tail_f1": float(np.mean([f1[c] for c in tail])) if tail else math.nan,
            "head_f1": float(np.mean([f1[c] for c in head])) if head else math.nan,
            "zero_f1": sum(v == 0 for v in f1.values())}


def trained_share(rec):
    """``(trainable, total)`` parameters of a run that recorded them, else ``None``."""
    if "n_trainable_parameters" in rec and "n_parameters" in rec:
        return rec["n_trainable_parameters"], rec["n_parameters"]
    return None


# ------------------------------------------------------------------ cost and run time


def epoch_ratios(grid, cells, a, b):
    """Per paired seed of each cell, seconds per epoch of ``a`` over those of ``b``."""
    out = []
    for cell in cells:
        ra, rb = runs(grid, cell, a), runs(grid, cell, b)
        for s in sorted(set(ra) & set(rb)):
            ea, eb = ra[s].get("seconds_per_epoch"), rb[s].get("seconds_per_epoch")
            if ea and eb:
                out.append(ea / eb)
    return out


def seconds(records):
    return sum(r.get("fit_seconds", 0) + r.get("predict_seconds", 0) for r in records)


def multi_seed_methods():
    """The methods ``run.py`` runs on every seed of a profile (the rest: seed 0 only)."""
    return [m for m in ALL_METHODS if m in MAIN or m in CLASSIC or m in CALORA_BASES]


def profile_time(grid, cells):
    """Fit + predict seconds of ``cells``: ``{"total", "multi", "single"}`` (multi: the methods on
    every seed, CALoRA stage 2 included; single: the one-seed extras)."""
    multi = set(multi_seed_methods())
    recs = all_records(grid, [c for c in cells if c in grid])
    return {"total": seconds(recs), "multi": seconds(r for r in recs if r["method"] in multi),
            "single": seconds(r for r in recs if r["method"] not in multi), "runs": len(recs)}


def slowest_relative(grid, cells, methods=None):
    """The run slowest against the other seeds of its method and cell (among ``methods``, default
    all): ``(cell, method, seed, its seconds, {other seed: seconds})``, or ``None``."""
    best = None
    for cell in cells:
        for m, rs in grid.get(cell, {}).items():
            if len(rs) < 2 or (methods is not None and m not in methods):
                continue
            for s, rec in rs.items():
                others = {t: r["fit_seconds"] for t, r in rs.items() if t != s}
                ratio = rec["fit_seconds"] / max(np.median(list(others.values())), 1e-9)
                if best is None or ratio > best[0]:
                    best = (ratio, (cell, m, s, rec["fit_seconds"], others))
    return best[1] if best else None


def profile_status(grid, cells, seeds):
    """Which runs of a profile (its ``cells`` and number of ``seeds``) have a record:
    ``{"expected": n, "done": n, "missing": {method: {cell: [seeds]}}}``. Like ``run.py``, the
    multi-seed methods run on every seed and the others on seed 0."""
    multi = set(multi_seed_methods())
    expected = done = 0
    missing = {}
    for m in ALL_METHODS:
        for cell in cells:
            want = range(seeds) if m in multi else [0]
            have = set(runs(grid, cell, m))
            lacking = [s for s in want if s not in have]
            expected += len(want)
            done += len(want) - len(lacking)
            if lacking:
                missing.setdefault(m, {})[cell] = lacking
    return {"expected": expected, "done": done, "missing": missing}


# ------------------------------------------------------------------ other result files


def load_json(path):
    """A results json (``speed.json``, ``calora_conll.json``), ``None`` if absent or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def conll_facts(conll):
    """CALoRA on CoNLL-2003 from ``calora_conll.json``: per-seed macro-F1 gains over the base
    (points) and per-seed gains of routing over the same experts without routing, per stage-2 loss."""
    summary_ = (conll or {}).get("summary", {})
    gain = lambda name: [100 * g for g in summary_.get(name, {}).get("paired_macro_f1_gain_vs_base", [])]  # noqa
    out = {"seeds": (conll or {}).get("seeds", []), "gain": {}, "routing": {}}
    for loss in ("CE", "LA"):
        routed, flat = gain(f"CALoRA ({loss})"), gain(f"all experts ({loss})")
        if routed:
            out["gain"][loss] = routed
        if routed and len(routed) == len(flat):
            out["routing"][loss] = [r - f for r, f in zip(routed, flat)]
    return out


def speed_facts(speed):
    """From ``speed.json``: criterion share of a step (range), SharpReCL's peak memory against
    SCLCE's (relative differences), SharpReCL over CE seconds per epoch, and the fit of epoch
    seconds against the number of texts (slope, R²)."""
    if not speed:
        return None
    shares = [c["criterion_share_of_step"] for c in speed.get("cells", []) if "criterion_share_of_step" in c]
    memory = {}
    for row in speed.get("memory", []):
        memory.setdefault((row["dataset"], row["n_classes"]), {})[row["method"]] = row
    vs_sclce, vs_ce = [], []
    for rows in memory.values():
        if "SharpReCL" in rows and "SCLCE" in rows:
            vs_sclce.append(rows["SharpReCL"]["peak_rss_mib"] / rows["SCLCE"]["peak_rss_mib"] - 1)
        if "SharpReCL" in rows and "CE" in rows:
            vs_ce.append(rows["SharpReCL"]["epoch_s"] / rows["CE"]["epoch_s"])
    texts = [r for r in speed.get("scaling", []) if r.get("axis") == "texts"]
    fit = None
    if len(texts) >= 3:
        x = np.array([r["n_texts"] for r in texts], float)
        y = np.array([r["epoch_s"] for r in texts], float)
        slope, intercept = np.polyfit(x, y, 1)
        r2 = 1 - np.sum((y - (slope * x + intercept)) ** 2) / np.sum((y - y.mean()) ** 2)
        fit = {"ms_per_text": 1000 * slope, "r2": float(r2), "n_min": int(x.min()), "n_max": int(x.max())}
    return {"criterion_share": shares, "memory_vs_sclce": vs_sclce, "epoch_vs_ce": vs_ce, "linear": fit}


def summary_field(grid, cell, method, field):
    """Mean of a record field over the seeds of ``method`` in ``cell`` (``None`` if no run has it)."""
    values = [r[field] for r in runs(grid, cell, method).values() if r.get(field) is not None]
    return float(np.mean(values)) if values else None
