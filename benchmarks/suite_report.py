"""Tables of the suite study (docs/suite-study.md) from its run records.

Reads ``results/study/*.json`` and writes ``results/suite.md``:

- the cheaper branch (H22, H23): each variant of SharpReCL's second view on
  TREC and CR ir=50 (protocol 1, test macro-F1 as the rule of the issue
  that asked for it), paired against the two-view default, and its fit
  time over LA-CE's on the same seeds;
- the suite's baseline (protocol 2): every method on every cell, development
  and test macro-F1 and fit time, mean over the seeds run;
- the screens (protocol 2): each SharpReCL variant that adds one setting to
  the shipped defaults, paired against them on the development split;
- the rule for a default: each candidate on the four short-text cells,
  paired with the defaults on the development split, and whether it passes;
- the shipped defaults (H25): on each short-text cell the method and settings
  the defaults resolve to there, against LA-CE and CE on the same seeds, and
  the verdicts of issue #32 (also the README's benchmark table).

"The defaults" are the records whose ``--set`` is :data:`BASE`: the
estimator's defaults before ``head_init='auto'`` (``precision='auto'``
resolves to bf16 on the machine of the records). The shipped defaults'
section has a second series, ``base('fp32')``, run on a CPU without native
bf16; every table pairs a record only with records of its own series. Where ``'auto'`` resolves
to a random head (TREC, CR and StackOverflow ir=50) they are today's
defaults too; on Banking77 today's defaults are the ``head_init='linear_probe'`` rows.

    python -m benchmarks.suite_report
"""

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from sklearn_sharprecl.auto import FEW_CLASSES, FEW_TEXTS_PER_CLASS

from .reporting import fmt_cell, fmt_diff, md_table, paired, summarize
from .reporting.records import read_records

RESULTS = Path(__file__).resolve().parent / "results"


def base(precision):
    """The settings every suite run has, in one precision: a record pairs only with records of its
    own precision (the bf16 series ran on a CPU with native bf16, the fp32 one on a CPU without)."""
    return {"module__center_prototypes": True, "precision": precision}


#: The precision series of the suite, in the order they ran; the tables before the shipped
#: defaults' are the bf16 series'.
PRECISIONS = ("bf16", "fp32")
BASE = base("bf16")
BRANCH_CELLS = (("trec", 50), ("cr", 50))
SUITE_CELLS = (("trec", 50), ("cr", 50), ("stackoverflow", 50), ("banking77", 50), ("r52", None),
               ("ohsumed", None))
SUITE_METHODS = ("SharpReCL", "LA-CE (w/o CL)", "CE", "SetFit", "Frozen MiniLM+LR",
                 "TF-IDF+LinearSVC (balanced)", "TF-IDF+LR (balanced)")
SHORT_CELLS = SUITE_CELLS[:4]
#: The long-document cells, trained on the top 2 layers for 2 epochs (the suite profile).
LONG_CELLS = SUITE_CELLS[4:]
#: The branch as the long-document recipe names it (docs/long-documents.md): two views.
LONG_BRANCH = {"augment": "dropout"}
#: The seeds the rule for a default asks for on every short-text cell.
RULE_SEEDS = 5
#: The second views of the cheaper-branch screen: the setting added to BASE.
BRANCH_VARIANTS = (("two views (default)", {}), ("one view (H22)", {"augment": None}),
                   ("shared lower 4 blocks (H23)", {"module__shared_view_layers": 4}),
                   ("shared lower 5 blocks (H23)", {"module__shared_view_layers": 5}))


def owns(record):
    """Whether a record is the suite study's: protocol 2, or the shipped defaults of 0.1.0 (BASE)
    with or without one more setting. The method study's tables leave these out."""
    config = record.get("config", {})
    settings = config.get("set", {})
    return config.get("protocol", 1) == 2 or (
        config.get("recipe") == "r1-linear-all" and all(settings.get(k) == v for k, v in BASE.items()))


def load(folder):
    """``{(protocol, method, settings-json): {(dataset, ratio): {seed: record}}}``."""
    grid = defaultdict(lambda: defaultdict(dict))
    for record in read_records(folder):
        config = record["config"]
        if config.get("second_view") or not owns(record):
            continue
        key = (config.get("protocol", 1), record["method"], settings_key(config.get("set", {})))
        grid[key][(record["dataset"], record["imbalance_ratio"])][int(record["seed"])] = record
    return grid


def settings_key(settings):
    return json.dumps(settings, sort_keys=True)


def runs_of(grid, protocol, method, settings, cell):
    return grid.get((protocol, method, settings_key(settings)), {}).get(cell, {})


def score(record, split):
    """Macro-F1 in % on ``'test'`` or ``'dev'`` (nan where the record has no such split)."""
    value = record["macro_f1"] if split == "test" else record.get("dev", {}).get("macro_f1")
    return math.nan if value is None else 100 * value


def paired_scores(a, b, split):
    return paired(a, b, score=lambda record: score(record, split))


def paired_tail(a, b):
    return paired(a, b, score=rarest_recall)


def fit_ratio(a, b):
    """Mean over the common seeds of a's fit time over b's, and the seeds."""
    seeds = sorted(set(a) & set(b))
    ratios = [a[s]["fit_seconds"] / b[s]["fit_seconds"] for s in seeds]
    return (float(np.mean(ratios)) if ratios else math.nan), seeds


def summary(runs, split="test"):
    return fmt_cell(*summarize([score(runs[s], split) for s in sorted(runs)]))


def within_noise(pair):
    """The issue's bar: |mean paired difference| < its sd."""
    if pair["n"] < 2:
        return "needs seeds"
    return "yes" if abs(pair["mean"]) < pair["sd"] else "no"


def branch_table(grid):
    rows = []
    for cell in BRANCH_CELLS:
        default = runs_of(grid, 1, "SharpReCL", BASE, cell)
        ablation = runs_of(grid, 1, "LA-CE (w/o CL)", BASE, cell)
        for name, extra in BRANCH_VARIANTS:
            runs = runs_of(grid, 1, "SharpReCL", {**BASE, **extra}, cell)
            if not runs:
                continue
            pair = paired_scores(runs, default, "test")
            over_ablation = paired_scores(runs, ablation, "test")
            ratio, seeds = fit_ratio(runs, ablation)
            if not extra:  # its bf16 fits ran beside other work: see the note under the table
                ratio, seeds = math.nan, []
            rows.append([
                f"{cell[0].upper()} ir={cell[1]}", name, summary(runs),
                "–" if not extra else fmt_diff(pair), "–" if not extra else within_noise(pair),
                fmt_diff(over_ablation), f"{ratio:.2f} ({len(seeds)})" if seeds else "–",
            ])
    header = ["cell", "second view", "test macro-F1", "minus two views (paired)", "within noise",
              "minus LA-CE (paired)", "fit time / LA-CE's (seeds)"]
    return md_table(header, rows)


def cell_label(cell):
    dataset, ratio = cell
    return f"{dataset} ir={ratio}" if ratio else dataset


def rarest_recall(record, k=5):
    """Mean development recall of the ``k`` classes with the fewest training texts (nan without dev)."""
    per_class = record.get("dev", {}).get("per_class")
    if not per_class:
        return math.nan
    counts = record["train_class_counts"]
    rarest = sorted(counts, key=lambda c: (counts[c], c))[:k]
    return 100 * float(np.mean([per_class[c]["recall"] for c in rarest]))


def baseline_table(grid):
    rows = []
    for cell in SUITE_CELLS:
        for method in SUITE_METHODS:
            settings = BASE if (2, method, settings_key(BASE)) in grid else {}
            runs = runs_of(grid, 2, method, settings, cell)
            if not runs:
                continue
            fit = summarize([runs[s]["fit_seconds"] for s in sorted(runs)])
            tail = fmt_cell(*summarize([rarest_recall(runs[s]) for s in sorted(runs)]))
            rows.append([cell_label(cell), method, summary(runs, "dev"), tail, summary(runs, "test"),
                         f"{fit[0]:.0f}"])
    header = ["cell", "method", "dev macro-F1", "dev recall of the 5 rarest classes", "test macro-F1",
              "fit s (mean)"]
    return md_table(header, rows)


def screen_table(grid):
    rows = []
    for (protocol, method, key), cells in sorted(grid.items()):
        settings = json.loads(key)
        series = base(settings.get("precision", BASE["precision"]))  # paired within its own series
        extra = {k: v for k, v in settings.items() if series.get(k, object()) != v}
        if protocol != 2 or not extra or any(k not in settings for k in series):
            continue
        for cell in SUITE_CELLS:
            runs = cells.get(cell)
            base_runs = runs_of(grid, 2, method, series, cell)
            if not runs or not base_runs:
                continue
            pair = paired_scores(runs, base_runs, "dev")
            ratio, _ = fit_ratio(runs, base_runs)
            tail = paired_tail(runs, base_runs)
            rows.append([cell_label(cell), method, ", ".join(f"{k}={json.dumps(v)}" for k, v in extra.items()),
                         summary(runs, "dev"), fmt_diff(pair), fmt_diff(tail), summary(runs, "test"),
                         f"{ratio:.2f}"])
    header = ["cell", "method", "setting added to the defaults", "dev macro-F1", "minus defaults (dev, paired)",
              "rarest-5 recall minus defaults'", "test macro-F1", "fit time / defaults'"]
    return md_table(header, rows)


def probe_when_few_texts(record):
    """What ``head_init='auto'`` adds to the defaults for the training set of ``record``."""
    few = min(record["train_class_counts"].values()) < FEW_TEXTS_PER_CLASS
    return {"head_init": "linear_probe"} if few else {}


def one_view(record):
    return {"augment": None}


#: Candidates for a default: a name, the methods it is given to, and the
#: setting it adds to the defaults for a cell and seed (from BASE's record of
#: them, which holds the training set's class counts).
RULE_CANDIDATES = (
    ("head_init='auto' (H20 by data)", ("SharpReCL", "LA-CE (w/o CL)", "CE"), probe_when_few_texts),
    ("augment=None (H22)", ("SharpReCL",), one_view),
)


def candidate_pair(grid, method, added, cell):
    """The candidate's development scores paired with the defaults' on ``cell``, and whether
    the candidate is the defaults themselves there.

    Where the candidate adds nothing for a seed (a data-dependent setting that
    resolves to the defaults), the defaults' own record is the candidate's. A
    cell's class counts do not depend on the seed (``make_long_tailed`` keeps a
    fixed number of texts per class rank), so neither does a setting decided by them.
    """
    base = runs_of(grid, 2, method, BASE, cell)
    extras = {seed: added(record) for seed, record in base.items()}
    runs = {seed: base[seed] if not extra else runs_of(grid, 2, method, {**BASE, **extra}, cell).get(seed)
            for seed, extra in extras.items()}
    runs = {seed: record for seed, record in runs.items() if record is not None}
    return paired_scores(runs, base, "dev"), bool(base) and not any(extras.values())


def rule_verdict(found):
    """The rule of docs/suite-study.md over the four cells' paired differences."""
    if any(pair["n"] < RULE_SEEDS and not is_defaults for pair, is_defaults in found):
        return f"needs {RULE_SEEDS} seeds on every cell"
    pairs = [pair for pair, _ in found]
    worse = any(p["mean"] < -p["sd"] for p in pairs)
    return "passes" if not worse and np.mean([p["mean"] for p in pairs]) > 0 else "fails"


def rule_table(grid):
    rows = []
    for name, methods, added in RULE_CANDIDATES:
        for method in methods:
            found = [candidate_pair(grid, method, added, cell) for cell in SHORT_CELLS]
            cells = ["0 (= defaults)" if is_defaults else f"{fmt_diff(pair)} ({pair['n']})"
                     for pair, is_defaults in found]
            rows.append([name, method, *cells, rule_verdict(found)])
    header = ["candidate", "method", *(cell_label(c) for c in SHORT_CELLS), "rule"]
    return md_table(header, rows)


# ------------------------------------------------------------- the shipped defaults (H25)
PEERS = ("LA-CE (w/o CL)", "CE")


def probe_for(counts):
    """What ``head_init='auto'`` adds for a training set with these class counts (H20)."""
    return {"head_init": "linear_probe"} if min(counts.values()) < FEW_TEXTS_PER_CLASS else {}


def shipped(counts, precision):
    """``(method, settings)`` of the records that are the shipped defaults for a training set with
    these class counts: ``contrastive='auto'`` runs the branch, on one view (``augment=None``),
    below :data:`FEW_CLASSES` classes and is LA-CE otherwise (H25); ``head_init='auto'`` (H20)."""
    if len(counts) < FEW_CLASSES:
        return "SharpReCL", {**base(precision), "augment": None, **probe_for(counts)}
    return "LA-CE (w/o CL)", {**base(precision), **probe_for(counts)}


def cell_counts(grid, cell):
    """The training class counts of a protocol-2 cell (the same on every seed), or None."""
    for (protocol, _, _), cells in grid.items():
        for record in cells.get(cell, {}).values() if protocol == 2 else ():
            if "train_class_counts" in record:
                return record["train_class_counts"]
    return None


def cost_ratio(a, b):
    """Mean over the seeds where both records have CPU seconds of a's fit CPU time over b's, and
    their count. CPU seconds, not wall seconds: the fits of H25 ran on a shared machine without
    native bf16, where wall times are neither stable nor comparable with the earlier records'."""
    seeds = [s for s in sorted(set(a) & set(b)) if "fit_cpu_seconds" in a[s] and "fit_cpu_seconds" in b[s]]
    ratios = [a[s]["fit_cpu_seconds"] / b[s]["fit_cpu_seconds"] for s in seeds]
    return (float(np.mean(ratios)) if ratios else math.nan), len(seeds)


def defaults_cells(grid, precision, cells=SHORT_CELLS):
    """Per cell: the defaults' method, settings and runs, the peers' runs (LA-CE, CE and the
    long-document recipe's branch, each with the probe where the defaults have it), in one
    precision series."""
    found = []
    for cell in cells:
        counts = cell_counts(grid, cell)
        if counts is None:
            continue
        method, settings = shipped(counts, precision)
        peer_settings = {**base(precision), **probe_for(counts)}
        defaults = runs_of(grid, 2, method, settings, cell)
        found.append({"cell": cell, "n_classes": len(counts), "method": method, "settings": settings,
                      "defaults": defaults,
                      # the defaults are LA-CE's own runs: their difference is 0 where runs exist
                      "same_runs": method == "LA-CE (w/o CL)" and bool(defaults),
                      **{peer: runs_of(grid, 2, peer, peer_settings, cell) for peer in PEERS},
                      "branch": runs_of(grid, 2, "SharpReCL", {**peer_settings, **LONG_BRANCH}, cell)})
    return found


def described(method, settings):
    extra = {k: v for k, v in settings.items() if k not in BASE}  # the keys of every series
    name = "SharpReCL" if method == "SharpReCL" else "LA-CE"
    return name + "".join(f", {k}={json.dumps(v)}" for k, v in extra.items())


def compared_row(c, peer):
    """One cell of :func:`defaults_cells`: the defaults against ``peer`` (a key of ``c``) and CE."""
    d, other, ce = c["defaults"], c[peer], c["CE"]
    same = c["same_runs"] and peer == "LA-CE (w/o CL)"
    ratio, n = cost_ratio(d, other)
    tail = [fmt_cell(*summarize([rarest_recall(r[s]) for s in sorted(r)])) for r in (d, other)]
    return [
        f"{cell_label(c['cell'])} ({c['n_classes']} classes)", described(c["method"], c["settings"]),
        summary(d, "dev"), summary(other, "dev"), summary(ce, "dev"),
        "0 (the same runs)" if same else fmt_diff(paired_scores(d, other, "dev")),
        fmt_diff(paired_scores(d, ce, "dev")), f"{tail[0]} · {tail[1]}",
        "0 (the same runs)" if same else fmt_diff(paired_tail(d, other)),
        "1.00 (the same runs)" if same else (f"{ratio:.2f} ({n})" if n else "–"),
    ]


def compared_header(peer):
    return ["cell", "the defaults are", "defaults", peer, "CE", f"defaults − {peer} (paired)",
            "defaults − CE (paired)", f"recall of the 5 rarest: defaults · {peer}",
            "its difference (paired)", f"fit CPU time / {peer}'s (seeds)"]


def defaults_table(grid, precision):
    """The suite table: the shipped defaults, LA-CE and CE on each cell's development split."""
    return md_table(compared_header("LA-CE"),
                    [compared_row(c, "LA-CE (w/o CL)") for c in defaults_cells(grid, precision)])


def long_document_table(grid, precision):
    """R52 and Ohsumed under the shipped defaults (LA-CE with the probe: 10 classes or more, fewer
    than 10 texts in the rarest), against the branch as the long-document recipe names it and CE,
    on the development split."""
    rows = [compared_row(c, "branch") for c in defaults_cells(grid, precision, LONG_CELLS)]
    if not rows:
        return "No protocol-2 run of these cells yet (docs/suite-study.md, \"Open\")."
    return md_table(compared_header("the branch"), rows)


def defaults_verdicts(grid, precision, seeds=RULE_SEEDS):
    """Issue #32's "done when", one ``(criterion, verdict)`` per line."""
    cells = defaults_cells(grid, precision)
    pending = [cell_label(c["cell"]) for c in cells for runs in (c["defaults"], *(c[p] for p in PEERS))
               if len(runs) < seeds]
    missing = [cell_label(cell) for cell in SHORT_CELLS if cell not in [c["cell"] for c in cells]]
    f1 = {cell_label(c["cell"]): paired_scores(c["defaults"], c["LA-CE (w/o CL)"], "dev") for c in cells}
    tail = {cell_label(c["cell"]): paired_tail(c["defaults"], c["LA-CE (w/o CL)"]) for c in cells}

    def sd(pair):
        return 0.0 if pair["n"] > 1 and all(x == 0 for x in pair["diffs"]) else pair["sd"]

    # Cells without two paired seeds are what "not decided" names, not a "no".
    not_worse = [name for name in f1 if f1[name]["n"] > 1 and tail[name]["n"] > 1
                 and (f1[name]["mean"] < -sd(f1[name]) or tail[name]["mean"] < -sd(tail[name]))]
    ahead = [name for name in f1 if f1[name]["n"] > 1 and f1[name]["mean"] > sd(f1[name])]
    means = {who: [np.mean([score(r, "dev") for r in c[key].values()]) if c[key] else math.nan for c in cells]
             for who, key in (("defaults", "defaults"), ("CE", "CE"))}
    ratios = {cell_label(c["cell"]): (1.0 if c["same_runs"] else
                                      cost_ratio(c["defaults"], c["LA-CE (w/o CL)"])[0]) for c in cells}
    over = [name for name, r in ratios.items() if r > 1.1]
    mean_d, mean_ce = float(np.mean(means["defaults"])), float(np.mean(means["CE"]))
    found = [
        ("defaults − LA-CE ≥ −sd on macro-F1 and on the 5 rarest classes' recall, every cell",
         "yes" if not not_worse else f"no: {', '.join(not_worse)}"),
        ("defaults − LA-CE > +sd on macro-F1 on at least 2 cells",
         f"{'yes' if len(ahead) >= 2 else 'no'}: {', '.join(ahead) or 'none'}"),
        ("the defaults' mean over the four cells above CE's",
         f"{'yes' if mean_d > mean_ce else 'no'}: {mean_d:.1f} against {mean_ce:.1f}"
         if len(cells) == len(SHORT_CELLS) and math.isfinite(mean_d) and math.isfinite(mean_ce)
         else "no mean yet (a cell without runs)"),
        ("fit time ≤ 1.1x LA-CE's on every cell (CPU seconds)",
         ("yes" if not over else f"no: {', '.join(over)}") + " ("
         + ", ".join(f"{name} {r:.2f}" if math.isfinite(r) else f"{name} –" for name, r in ratios.items()) + ")"),
    ]
    if not pending and not missing:
        return found
    lacking = ", ".join(sorted(set(pending + missing)))
    return [(criterion, f"not decided, fewer than {seeds} seeds on {lacking}; so far {verdict}")
            for criterion, verdict in found]


def defaults_section(grid, precision):
    """The table and its verdicts in one precision series, as markdown (the README's benchmark
    table too)."""
    verdicts = "\n".join(f"- {criterion}: **{verdict}**"
                         for criterion, verdict in defaults_verdicts(grid, precision))
    return f"{defaults_table(grid, precision)}\n\n{verdicts}\n"


def branch_cost_line(path=RESULTS / "branch_cost.json"):
    """The side-by-side epoch ratios of two views over LA-CE, from branch_cost.json."""
    try:
        rows = json.loads(Path(path).read_text())["rows"]
    except (OSError, ValueError, KeyError):
        return "Side by side epoch times: run `python -m benchmarks.branch_cost`."
    ratios = ", ".join(f"{r['ratio_to_ablation']:.2f}x ({r['dataset']})" for r in rows
                       if r["variant"] == "two views (default)")
    return f"Side by side in one process, a two-view epoch costs {ratios} LA-CE's ([branch_cost.md](branch_cost.md))."


def compute_hours(grid):
    """Fit and predict time of the study's records, in hours, and their count."""
    records = [r for cells in grid.values() for runs in cells.values() for r in runs.values()]
    return sum(r["fit_seconds"] + r.get("predict_seconds", 0.0) for r in records) / 3600, len(records)


def write(out, grid):
    hours, n_records = compute_hours(grid)
    text = "\n".join([
        "# Suite study: tables from the records",
        "",
        "Written by `python -m benchmarks.suite_report` from `results/study/*.json`; the study's",
        "reading of them is [docs/suite-study.md](../../docs/suite-study.md). Macro-F1 in %, mean ± sd",
        "(seeds); paired differences are mean ± sd over the seeds both sides have. Every run has",
        f"`--recipe r1-linear-all --set {' '.join(f'{k}={json.dumps(v)}' for k, v in BASE.items())}`",
        "(`precision=\"fp32\"` in the fp32 series of the last section and in the screens that name it)",
        "plus the setting its row names (the recipe pins `head_init='random'`: \"the defaults\" are",
        "0.1.0's before `head_init='auto'`, which on Banking77 are the `head_init=\"linear_probe\"` rows).",
        "",
        "## The cheaper branch (H22, H23): TREC and CR ir=50, protocol 1, test split",
        "",
        branch_table(grid),
        "",
        "The two-view records' fit times are not a ratio: those fits ran while the machine was shared.",
        branch_cost_line(),
        "",
        "## The suite's baseline: protocol 2 (development split held out)",
        "",
        baseline_table(grid),
        "",
        "## Screens: one setting added to the defaults, protocol 2, development split",
        "",
        screen_table(grid),
        "",
        "## The rule for a default: candidates on the four short-text cells, development split",
        "",
        "Each cell: the candidate minus the defaults, development macro-F1, paired (seeds).",
        f"A candidate passes with {RULE_SEEDS} paired seeds on every cell, no mean paired difference",
        "below minus its sd, and a positive mean of the four. \"= defaults\": the setting resolves to",
        "the defaults on the cell (for `head_init='auto'`: its rarest class has at least",
        f"{FEW_TEXTS_PER_CLASS} training texts, on every seed), so the defaults' records are the candidate's.",
        "",
        rule_table(grid),
        "",
        "## The shipped defaults (H25): every short-text cell, protocol 2, development split",
        "",
        f"`contrastive='auto'`: the branch, on one view (`augment=None`), below {FEW_CLASSES} classes, and",
        f"LA-CE otherwise; `head_init='auto'`: the probe below {FEW_TEXTS_PER_CLASS} texts in the rarest class",
        "(given to LA-CE and CE as well). Macro-F1 and the development recall of the 5 classes with",
        "the fewest training texts (all classes on TREC and CR), mean ± sd (seeds); paired differences",
        "over the seeds both sides have; fit time over LA-CE's in CPU seconds, on the seeds where both",
        "records have them (wall seconds of a shared machine are no measure; older records have none).",
        "Each precision series is paired within itself only.",
        "",
        *[part for precision in PRECISIONS for part in (
            f"### {precision}: `--set {' '.join(f'{k}={json.dumps(v)}' for k, v in base(precision).items())}`",
            "", defaults_section(grid, precision))],
        "## The long-document cells under the shipped defaults (H25): R52 and Ohsumed, protocol 2",
        "",
        "Top 2 layers trained for 2 epochs; the rarest class has fewer than "
        f"{FEW_TEXTS_PER_CLASS} training texts, so every",
        "method starts from the probe. 10 classes or more: the defaults are LA-CE. The branch is the",
        "long-document recipe's (`contrastive='sharp', augment='dropout'`). bf16 series.",
        "",
        long_document_table(grid, "bf16"),
        "",
        f"Fit + predict time of the study's records: {hours:.2f} h ({n_records} records).",
        "",
    ])
    Path(out).write_text(text)
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=RESULTS / "study")
    parser.add_argument("--out", default=RESULTS / "suite.md")
    args = parser.parse_args(argv)
    print(write(args.out, load(args.results)))


if __name__ == "__main__":
    main()
