"""Statistics over seeds: summaries, paired seed differences, the paired t-test, verdicts."""

import math
from collections import defaultdict

import numpy as np


def summarize(values):
    """``(mean, sd, n)``; sd is the sample standard deviation (ddof=1), nan for n < 2."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return math.nan, math.nan, 0
    return float(values.mean()), float(values.std(ddof=1)) if n > 1 else math.nan, n


def scores(runs, metric="macro_f1"):
    """Metric of each seed in %, in seed order."""
    return [100 * runs[s][metric] for s in sorted(runs)]


def paired(runs_a, runs_b, metric="macro_f1", score=None):
    """A minus B (in points of %) on the seeds both have.

    ``score(record)``, a value already in points, replaces the record's ``metric``.
    """
    seeds = sorted(set(runs_a) & set(runs_b))
    if score is None:
        diffs = [100 * (runs_a[s][metric] - runs_b[s][metric]) for s in seeds]
    else:
        diffs = [score(runs_a[s]) - score(runs_b[s]) for s in seeds]
    return pair_of_diffs(diffs, seeds)


def pair_of_diffs(diffs, seeds=None):
    """A paired difference (as :func:`paired` returns) from the per-seed differences."""
    diffs = [float(d) for d in diffs]
    mean, sd, n = summarize(diffs)
    return {"seeds": list(range(n)) if seeds is None else list(seeds), "diffs": diffs, "mean": mean, "sd": sd,
            "n": n}


def verdict(pair, name_a="SharpReCL"):
    """Plain-words verdict of a paired difference: beyond seed noise only if |mean| > sd."""
    if pair["n"] == 0:
        return "no common seed"
    if pair["n"] < 2:
        return "one seed: no noise estimate"
    mean, sd = pair["mean"], pair["sd"]
    if sd == 0 and mean == 0:
        return "identical"
    if abs(mean) > sd:
        return f"{name_a} {'ahead' if mean > 0 else 'behind'} (|mean| > sd)"
    return "within seed noise"


def paired_t_p(pair):
    """Two-sided p of a paired t-test (nan when undefined)."""
    if pair["n"] < 2 or not pair["sd"] > 0:
        return math.nan
    from scipy import stats

    # A paired t-test is the one-sample test of the differences against 0.
    return float(stats.ttest_1samp(pair["diffs"], 0.0).pvalue)


def noise_bar(n):
    """``(t, p)`` of a paired t-test whose differences have |mean| = sd over ``n`` seeds:
    what the |mean| > sd bar amounts to (t = sqrt(n), two-sided p)."""
    from scipy import stats

    t = math.sqrt(n)
    return t, float(2 * stats.t.sf(t, n - 1))


def rarest_classes(runs, k=5):
    """The ``k`` classes with the fewest training examples (mean count over seeds), rarest first,
    and the mean count of every class."""
    counts = defaultdict(list)
    for rec in runs.values():
        for label, n in rec["train_class_counts"].items():
            counts[label].append(n)
    mean = {label: float(np.mean(v)) for label, v in counts.items()}
    return sorted(mean, key=lambda c: (mean[c], c))[:k], mean


def mean_field(runs, *path):
    """Mean over the records of a (nested) field; nan when no record has it."""
    values = []
    for rec in runs.values():
        v = rec
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if v is not None:
            values.append(float(v))
    return float(np.mean(values)) if values else math.nan
