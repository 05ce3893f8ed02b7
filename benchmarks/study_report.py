"""Tables of the method study (docs/method-study.md) from its run records.

Reads ``results/study/*.json`` (written by ``run.py --recipe ... --set ...``;
the suite study's records are left to ``suite_report``)
and the benchmark's own ``results/runs/*.json`` (the ``v1`` recipe), and
writes ``results/study.md``:

- every variant (recipe, method, overrides) with its macro-F1 per cell and
  seed, and its fit time;
- paired differences (same long-tailed subset, split and initialisation seed)
  of each SharpReCL variant against SharpReCL with no override in the same
  recipe, of SharpReCL against LA-CE and CE in each recipe, and of each
  recipe against ``v1`` for SharpReCL, LA-CE and CE;
- issue #16's long-document table: R52 and Ohsumed, the fine-tuned methods
  with and without the linear-probe head beside the classic peers;
- the confirmation on paired seeds and the decision-rule diagnostic.

    python -m benchmarks.study_report
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from . import suite_report
from .reporting import fmt_cell, fmt_diff, md_table, pair_of_diffs, paired, scores, summarize
from .reporting.paper import PAPER_SETUP, PAPER_TAG, load_paper, paper_cell
from .reporting.records import read_records

RESULTS = Path(__file__).resolve().parent / "results"
CELLS = [("trec", 50), ("cr", 50), ("trec-sharprecl", 50), ("r52", None), ("ohsumed", None)]


PEERS = ("LA-CE (w/o CL)", "CE")  # SharpReCL's fine-tuned peers
FINE_TUNED = ("SharpReCL", *PEERS)
CLASSIC_LONG = ("Frozen MiniLM+LR", "TF-IDF+LinearSVC (balanced)")  # issue #16's classic peers
LONG_CELLS = (("r52", None), ("ohsumed", None))
PROBE = 'head_init="linear_probe"'  # H15, the long-document setting


def variant_of(record):
    """``(recipe, method, overrides)`` of a record; benchmark records are recipe ``v1``."""
    config = record.get("config", {})
    settings = dict(config.get("set", {}))
    if "second_view" in config:  # H7: a column of the data passed as X_aug, not a parameter
        settings["X_aug"] = config["second_view"]
    if config.get("freeze_layers"):  # the earliest R52/Ohsumed records: skorch's Freezer, dropout on
        settings["freeze_layers"] = config["freeze_layers"]
    overrides = ",".join(f"{k}={json.dumps(v)}" for k, v in sorted(settings.items()))
    return config.get("recipe", "v1"), record["method"], overrides


def load(dirs):
    """``{variant: {(dataset, ratio): {seed: record}}}`` and the total fit seconds."""
    grid = defaultdict(lambda: defaultdict(dict))
    seconds = 0.0
    for folder in dirs:
        for record in read_records(folder):
            if suite_report.owns(record):  # suite.md has those
                continue
            cell = (record["dataset"], record["imbalance_ratio"])
            grid[variant_of(record)][cell][int(record["seed"])] = record
            if Path(folder).name == "study":
                seconds += record["fit_seconds"] + record.get("predict_seconds", 0.0)
    return grid, seconds


def label(variant):
    recipe, method, overrides = variant
    return f"{recipe} · {method}" + (f" · {overrides}" if overrides else "")


def cell_name(cell):
    dataset, ratio = cell
    return f"{dataset} ir={ratio}" if ratio else dataset


def variant_table(grid, cells):
    header = ["recipe · method · overrides"] + [f"{cell_name(c)} seed 0" for c in cells] \
        + [f"{cell_name(c)} all seeds" for c in cells] + ["fit s (mean)"]
    rows = []
    for variant in sorted(grid):
        runs = grid[variant]
        seed0 = [f"{100 * runs[c][0]['macro_f1']:.1f}" if 0 in runs.get(c, {}) else "–" for c in cells]
        every = [fmt_cell(*summarize([100 * r["macro_f1"] for r in runs.get(c, {}).values()]))
                 for c in cells]
        fits = [r["fit_seconds"] for c in cells for r in runs.get(c, {}).values()]
        rows.append([label(variant)] + seed0 + every + [f"{sum(fits) / len(fits):.0f}" if fits else "–"])
    return md_table(header, rows)


def paired_rows(grid, cells):
    """(comparison, per-cell paired difference) rows.

    A screened change (overrides) of a fine-tuned method is paired with the
    same method without it; a SharpReCL change also with LA-CE and CE given
    the same change (what the branch adds once every method has it).
    :func:`confirmation_table` instead holds a variant against the peers as
    shipped, the bar for making it the default.
    """
    rows = []
    for variant in sorted(grid):
        recipe, method, overrides = variant
        if recipe != "v1" and not overrides and method in FINE_TUNED:
            # What the recipe itself does to each method (the shipped defaults' question).
            diffs = [paired(grid[variant].get(c, {}), grid.get(("v1", method, ""), {}).get(c, {}))
                     for c in cells]
            if any(d["n"] for d in diffs):
                rows.append([f"{label(variant)} − v1 · {method}"]
                            + [f"{fmt_diff(d)} (n={d['n']})" if d["n"] else "–" for d in diffs])
        if method not in FINE_TUNED:  # the classic peers have no settings to screen
            continue
        # A screened change against the same method without it; SharpReCL
        # (changed or not) against its peers given the same settings.
        references = [(recipe, method, "")] if overrides else []
        if method == "SharpReCL":
            references += [(recipe, peer, overrides) for peer in PEERS]
        for reference in references:
            if reference not in grid:
                continue
            diffs = [paired(grid[variant].get(c, {}), grid[reference].get(c, {})) for c in cells]
            if all(d["n"] == 0 for d in diffs):
                continue
            peer = reference[1] + (f" · {reference[2]}" if reference[2] else "")
            rows.append([f"{label(variant)} − {peer}"]
                        + [f"{fmt_diff(d)} (n={d['n']})" if d["n"] else "–" for d in diffs])
    return rows


def confirmation_table(grid, cells, min_seeds=3):
    """SharpReCL against LA-CE and CE per seed, in every recipe run on ``min_seeds``+ seeds;
    a variant (overrides) also against its method without them.

    Seed 0 screened the recipes, so the mean is also given without it: a
    recipe chosen on seed 0 would otherwise be credited with its own luck.
    The issue's bar: mean paired difference larger than its sd.
    """
    rows = []
    for recipe, method, overrides in sorted(grid):
        # A confirmed screen (overrides) is also compared with its method without it.
        if method == "SharpReCL":
            peers = list(PEERS) + (["SharpReCL"] if overrides else [])
        elif overrides:
            peers = [method]
        else:
            continue
        ours = grid[(recipe, method, overrides)]
        name = method + (f" · {overrides}" if overrides else "")
        for peer in peers:
            theirs = grid.get((recipe, peer, ""), {})
            for cell in cells:
                pair = paired(ours.get(cell, {}), theirs.get(cell, {}))
                if pair["n"] < min_seeds:
                    continue
                later = pair_of_diffs([d for s, d in zip(pair["seeds"], pair["diffs"]) if s != 0],
                                      [s for s in pair["seeds"] if s != 0])
                bar = "yes" if pair["mean"] > pair["sd"] else "no"
                rows.append([recipe, f"{name} − {peer}", cell_name(cell), str(pair["n"]),
                             ", ".join(f"{d:+.1f}" for d in pair["diffs"]), fmt_diff(pair),
                             f"{fmt_diff(later)} (n={later['n']})", bar])
    return md_table(["recipe", "comparison", "cell", "seeds", "per seed (0, 1, ...)", "mean ± sd",
                     "without seed 0", "mean > sd"], rows)


def long_document_table(grid, paper=None, setting=PROBE):
    """Issue #16's comparison on R52 and Ohsumed: the fine-tuned methods with and
    without ``setting`` and the classic peers, per seed and mean ± sd, and
    SharpReCL with ``setting`` minus each row on the seeds both have."""
    reference = ("v1", "SharpReCL", setting)
    variants = [("v1", m, setting) for m in FINE_TUNED] + [("v1", m, "") for m in FINE_TUNED + CLASSIC_LONG]
    rows = []
    for cell in LONG_CELLS:
        ours = grid.get(reference, {}).get(cell, {})
        for variant in variants:
            runs = grid.get(variant, {}).get(cell, {})
            if not runs:
                continue
            f1 = scores(runs)
            pair = paired(ours, runs) if variant != reference else None
            rows.append([cell_name(cell), variant[1] + (f" · {variant[2]}" if variant[2] else ""),
                         ", ".join(f"{seed}: {v:.1f}" for seed, v in zip(sorted(runs), f1)),
                         fmt_cell(*summarize(f1)),
                         f"{fmt_diff(pair)} (n={pair['n']})" if pair and pair["n"] else "–"])
        reported = paper_cell(paper, cell)
        if reported is not None:  # a mean over the paper's runs (its sd is not always printed)
            rows.append([cell_name(cell), f"SharpReCL, {PAPER_TAG}", "–",
                         f"{reported:.2f} ({PAPER_SETUP['runs_per_cell']})", "–"])
    return md_table(["cell", "method · setting", "per seed", "mean ± sd (n)",
                     f"SharpReCL · {setting} minus it (paired)"], rows)


def decision_prior_table(grid, cells, min_seeds=3):
    """Macro-F1 of the same fitted logit-adjusted models under the two decision rules:
    the balanced posterior (what they predict) and the training prior
    (``decision_prior='train'``), in variants (recipe, overrides) run on ``min_seeds``+ seeds."""
    rows = []
    for variant in sorted(grid):
        if variant[1] not in ("SharpReCL", "LA-CE (w/o CL)"):
            continue
        for cell in cells:
            runs = [r for r in grid[variant].get(cell, {}).values() if r.get("train_prior_decision")]
            if len(runs) < min_seeds:
                continue
            balanced = summarize([100 * r["macro_f1"] for r in runs])
            train = summarize([100 * r["train_prior_decision"]["macro_f1"] for r in runs])
            em = [100 * r["estimated_prior_decision"]["macro_f1"] for r in runs
                  if r.get("estimated_prior_decision")]
            ce = grid.get((variant[0], "CE", ""), {}).get(cell, {})
            rows.append([label(variant), cell_name(cell), fmt_cell(*balanced), fmt_cell(*train),
                         fmt_cell(*summarize(em)) if em else "–",
                         fmt_cell(*summarize([100 * r["macro_f1"] for r in ce.values()])) if ce else "–"])
    return md_table(["recipe · method · overrides", "cell", "balanced posterior (default)", "training prior",
                     "EM prior of the test texts", "CE, same recipe"], rows)


def estimated_prior_table(grid, cells):
    """Per run that has it: macro-F1 under the balanced posterior, the training prior and
    the prior ``estimate_decision_prior`` finds by EM on the unlabelled test texts."""
    rows = []
    for variant in sorted(grid):
        for cell in cells:
            for seed, record in sorted(grid[variant].get(cell, {}).items()):
                estimated = record.get("estimated_prior_decision")
                if not estimated:
                    continue
                rows.append([label(variant), cell_name(cell), str(seed), f"{100 * record['macro_f1']:.1f}",
                             f"{100 * record['train_prior_decision']['macro_f1']:.1f}",
                             f"{100 * estimated['macro_f1']:.1f}"])
    return md_table(["recipe · method · overrides", "cell", "seed", "balanced posterior (default)",
                     "training prior", "EM prior of the test texts"], rows)


def rarest_class_table(grid, cell, methods=("SharpReCL", "LA-CE (w/o CL)", "CE", "SCLCE (w/o SSHM)")):
    """Per run of ``cell``: macro-F1, the rarest training class's F1 and precision, and the
    macro-F1 of the other classes, so one sees what decides the ranking."""
    rows = []
    for variant in sorted(grid):
        if variant[1] not in methods or variant[2]:
            continue
        for seed, record in sorted(grid[variant].get(cell, {}).items()):
            counts = record["train_class_counts"]
            rarest = min(counts, key=counts.get)
            per_class = record["per_class"]
            rest = [v["f1"] for k, v in per_class.items() if k != rarest]
            rows.append([f"{variant[0]} · {variant[1]}", str(seed), f"{100 * record['macro_f1']:.1f}",
                         f"{rarest} ({counts[rarest]} train / {per_class[rarest]['test_support']} test)",
                         f"{100 * per_class[rarest]['f1']:.1f}", f"{100 * per_class[rarest]['precision']:.1f}",
                         f"{100 * sum(rest) / len(rest):.1f}"])
    return md_table(["recipe · method", "seed", "macro-F1", "rarest class", "its F1", "its precision",
                     "macro-F1 of the others"], rows)


def markdown(grid, seconds, paper=None):
    cells = [c for c in CELLS if any(c in runs for runs in grid.values())]
    out = ["# Method study: records", "",
           "Generated by `python -m benchmarks.study_report` from `results/study/*.json` (the study's "
           "runs) and `results/runs/*.json` (the benchmark, recipe `v1`). Macro-F1 in %, MiniLM, "
           "test split, never used for a choice; recipes with a validation split pick the epoch on "
           "it, `r1-linear-all` keeps the last epoch. The hypotheses and what each "
           "row showed are in [docs/method-study.md](../../docs/method-study.md). Recipes are defined "
           "in `benchmarks/methods.py` (`RECIPES`).", "",
           "## Every variant", "", variant_table(grid, cells), "",
           "## Paired differences (points of macro-F1, mean ± sd over common seeds)", "",
           md_table(["comparison"] + [cell_name(c) for c in cells], paired_rows(grid, cells)), "",
           "## Long documents (issue #16): with and without the linear-probe head", "",
           "Recipe `v1`, top 2 layers trained on the cached lower layers, 2 epochs, 128 tokens; "
           "the classic peers are the benchmark's own records.", "",
           long_document_table(grid, paper), "",
           "## Confirmation on paired seeds", "",
           confirmation_table(grid, cells), "",
           "## Decision rule: balanced posterior or training prior", "",
           "The same fitted models, scored under both rules (a diagnostic of every run, not a "
           "choice made on test).", "",
           decision_prior_table(grid, cells), "",
           "Per run, with the prior `estimate_decision_prior` estimates by EM from the unlabelled "
           "test texts (Saerens et al., 2002; no test label is read):", "",
           estimated_prior_table(grid, cells), "",
           "## What decides TREC: its rarest class", "",
           rarest_class_table(grid, ("trec", 50)), "",
           f"Fit + predict time of the study's own runs: {seconds / 3600:.2f} h "
           f"({len([1 for runs in grid.values() for c in runs.values() for _ in c])} records in all, "
           "benchmark records included).", ""]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args(argv)
    results = Path(args.results)
    grid, seconds = load([results / "runs", results / "study"])
    text = markdown(grid, seconds, load_paper())
    (results / "study.md").write_text(text)
    print(f"wrote {results / 'study.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
