"""Benchmark report: Table 2, Table 4, CALoRA, plots and a results page from the run records.

Reads every ``runs/*.json`` written by ``benchmarks/run.py`` (whatever exists:
a half-finished grid gives a half-filled report) and the paper's numbers in
``benchmarks/paper_table2.json``, and (re)writes in the output folder:

    table2.md    macro-F1 / accuracy per dataset x ratio and method, the paper's
                 cells beside them, and paired seed differences vs SharpReCL
    table4.md    the ablations (w/o SS, w/o HM, w/o SSHM, w/o CL)
    calora.md    CALoRA on X vs X: macro-F1, rarest-class F1, cost
    macro_f1_vs_ir.png, per_class_f1_vs_frequency_<dataset>_ir<r>.png, runtime.png
    README.md    how to run, the configuration, links, total run time

    python benchmarks/report.py
    python benchmarks/report.py --runs DIR --out DIR

Conventions: scores in %; ``mean ± sd (n)`` over seeds with the sample
standard deviation (ddof=1; none for a single seed); paired differences use
the seeds both methods have (same seed = same long-tailed subset, validation
split and initialisation). Fast and deterministic: no training, no timestamps.
"""

import argparse
import json
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from methods import CALORA_BASES, CLASSIC

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAPER = HERE / "paper_table2.json"
PAPER_TAG = "paper (BERT-base, theirs)"

# Column order of Table 2: ours first, then the peers a practitioner tries.
TABLE2_METHODS = [
    "SharpReCL",
    "LA-CE (w/o CL)",
    "CE",
    "SCLCE (w/o SSHM)",
    "Focal",
    "Dice",
    "CALoRA on SharpReCL",
    "CALoRA on CE",
    "SetFit",
] + CLASSIC
# Table 4: our name -> the paper's row name.
ABLATIONS = {
    "SharpReCL": "Ours",
    "SharpReCL (WordNet view)": "Ours (WordNet view)",  # not in the paper's table
    "w/o SS": "w/o SS",
    "w/o HM": "w/o HM",
    "w/o δ_CLS": "w/o δ_CLS",
    "SCLCE (w/o SSHM)": "w/o SSHM",
    "LA-CE (w/o CL)": "w/o CL",
}
# Lines of the per-class plot (the classic peers are drawn thin and dashed).
RUNTIME_ORDER = ["SharpReCL", "SharpReCL (WordNet view)", "w/o SS", "w/o HM", "w/o δ_CLS", "SCLCE (w/o SSHM)", "LA-CE (w/o CL)", "CE", "Focal", "Dice",
                 "CALoRA on SharpReCL", "CALoRA on CE", "SetFit"] + CLASSIC
PER_CLASS_MAIN = ["SharpReCL", "LA-CE (w/o CL)", "CE", "SCLCE (w/o SSHM)", "Focal", "Dice",
                  "CALoRA on SharpReCL", "CALoRA on CE", "SetFit"]
DATASET_ORDER = ["trec", "cr", "r52", "ohsumed"]
DATASET_NAMES = {"trec": "TREC", "cr": "CR", "r52": "R52", "ohsumed": "Ohsumed",
                 "dblp": "DBLP", "biomedical": "Biomedical"}
N_RAREST = 5


# --------------------------------------------------------------------------- loading


def load_runs(runs_dir):
    """All run records under ``runs_dir`` (sorted by file name).

    A record that cannot be read is skipped with a warning. Two records of the
    same dataset, ratio, method and seed (e.g. after a config change) would
    make the seeds unpaired: the newest file wins and a warning says so.
    """
    records = {}
    for path in sorted(Path(runs_dir).glob("*.json")):
        try:
            rec = json.loads(path.read_text())
            key = (rec["dataset"], rec["imbalance_ratio"], rec["method"], int(rec["seed"]))
            float(rec["macro_f1"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"warning: skipping {path.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        rec["_file"] = path.name
        rec["_mtime"] = path.stat().st_mtime
        if key in records:
            old = records[key]
            print(f"warning: {old['_file']} and {path.name} are the same run; keeping the newer",
                  file=sys.stderr)
            if old["_mtime"] > rec["_mtime"]:
                continue
        records[key] = rec
    return [records[k] for k in sorted(records, key=lambda k: records[k]["_file"])]


def row_sort_key(row):
    dataset, ratio = row
    d = DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER)
    # ir=50 (hardest) first, then 20, 10, then the original split.
    return (d, dataset, ratio is None, -(ratio or 0))


def row_label(row):
    dataset, ratio = row
    return f"{DATASET_NAMES.get(dataset, dataset)} {'org' if ratio is None else f'ir={ratio}'}"


def ratio_slug(ratio):
    return "org" if ratio is None else str(ratio)


def method_sort_key(method):
    order = TABLE2_METHODS + [m for m in ABLATIONS if m not in TABLE2_METHODS]
    return (order.index(method), "") if method in order else (len(order), method)


def index_runs(records):
    """``{(dataset, ratio): {method: {seed: record}}}``."""
    grid = defaultdict(lambda: defaultdict(dict))
    for rec in records:
        grid[(rec["dataset"], rec["imbalance_ratio"])][rec["method"]][int(rec["seed"])] = rec
    return grid


def rows_of(grid):
    return sorted(grid, key=row_sort_key)


# --------------------------------------------------------------------------- statistics


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


def paired(runs_a, runs_b, metric="macro_f1"):
    """A minus B (in points of %) on the seeds both have."""
    seeds = sorted(set(runs_a) & set(runs_b))
    diffs = [100 * (runs_a[s][metric] - runs_b[s][metric]) for s in seeds]
    mean, sd, n = summarize(diffs)
    return {"seeds": seeds, "diffs": diffs, "mean": mean, "sd": sd, "n": n}


def reading(pair, name_a="SharpReCL"):
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


# --------------------------------------------------------------------------- formatting


def fmt_num(x, digits=1):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def fmt_cell(mean, sd, n, bold=False, digits=1):
    """``78.1 ± 1.2 (3)``; a single seed shows no sd."""
    if n == 0:
        return "–"
    text = f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if n > 1 else "")
    return (f"**{text}**" if bold else text) + f" ({n})"


def fmt_diff(pair, digits=1):
    if pair["n"] == 0:
        return "–"
    if pair["n"] == 1:
        return f"{pair['mean']:+.{digits}f}"
    return f"{pair['mean']:+.{digits}f} ± {pair['sd']:.{digits}f}"


def fmt_paper(cell, metric="f1"):
    if not cell or cell.get(metric) is None:
        return "–"
    std = cell.get(f"{metric}_std")
    return f"{cell[metric]:.2f}" + (f" ± {std:.2f}" if std is not None else "")


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", "<br>") for c in r) + " |"
              for r in rows]
    return "\n".join(lines)


def present_methods(grid, rows, candidates):
    found = {m for row in rows for m in grid[row]}
    return [m for m in candidates if m in found]


def score_table(grid, rows, methods, metric, extra_header=(), extra_cells=None):
    """Rows x methods of ``mean ± sd (n)``, best mean per row in bold."""
    body = []
    for row in rows:
        stats = {m: summarize(scores(grid[row][m], metric)) for m in methods if grid[row].get(m)}
        best = max((s[0] for s in stats.values()), default=None)
        cells = [fmt_cell(*stats[m], bold=stats[m][0] == best) if m in stats else "–" for m in methods]
        body.append([row_label(row)] + cells + (list(extra_cells(row)) if extra_cells else []))
    return md_table(["dataset / ir"] + methods + list(extra_header), body)


# --------------------------------------------------------------------------- paper


def load_paper(path=PAPER):
    path = Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text())


def paper_row(paper, row):
    if not paper:
        return None
    for r in paper["rows"]:
        if (r["dataset"], r["imbalance_ratio"]) == tuple(row):
            return r
    return None


def best_baseline(prow, exclude=(), metric="f1"):
    """(name, cell) of the paper's best non-Ours column by ``metric``."""
    best = None
    for name, cell in prow["cells"].items():
        if name == "Ours" or name in exclude or cell.get(metric) is None:
            continue
        if best is None or cell[metric] > best[1][metric]:
            best = (name, cell)
    return best


def paper_row_label(prow):
    label = prow.get("paper_label") or ("org" if prow["imbalance_ratio"] is None else str(prow["imbalance_ratio"]))
    ratio = "ir=" + label if label[0].isdigit() else label
    return f"{DATASET_NAMES.get(prow['dataset'], prow['dataset'])} {ratio}"


# --------------------------------------------------------------------------- Table 2


def table2_markdown(grid, paper=None):
    rows = rows_of(grid)
    methods = present_methods(grid, rows, TABLE2_METHODS)
    others = sorted({m for row in rows for m in grid[row]} - set(TABLE2_METHODS) - set(ABLATIONS))
    methods += others
    out = ["# Table 2: macro-F1 and accuracy per dataset and imbalance ratio", "",
           "Generated by `python benchmarks/report.py` from `runs/*.json`. Cells: mean ± sd over seeds "
           "(sample sd, ddof=1; none for one seed) in %, number of seeds in brackets; **bold** = best "
           "mean of the row among our runs. `ir=50`: the training split is long-tailed with ratio 50 "
           "(test split untouched); `org`: the original split. Our encoder is all-MiniLM-L6-v2 on a CPU "
           "budget (see README.md), so the paper's BERT-base numbers beside ours are a reference, "
           "not a like-for-like comparison.", ""]
    if not rows:
        return "\n".join(out + ["No runs yet."]) + "\n"

    def paper_cells(metric):
        def cells(row):
            prow = paper_row(paper, row)
            if prow is None:
                return ["–", "–"]
            best = best_baseline(prow, metric=metric)
            return [fmt_paper(prow["cells"].get("Ours"), metric),
                    f"{best[0]}: {fmt_paper(best[1], metric)}" if best else "–"]
        return cells

    paper_header = [f"SharpReCL, {PAPER_TAG}", f"best baseline, {PAPER_TAG}"]
    out += ["## Macro-F1 (%)", "",
            score_table(grid, rows, methods, "macro_f1", paper_header, paper_cells("f1")), "",
            "## Accuracy (%)", "",
            score_table(grid, rows, methods, "accuracy", paper_header, paper_cells("acc")), ""]
    out += paired_markdown(grid, rows, [m for m in methods if m != "SharpReCL"] +
                           present_methods(grid, rows, ["w/o SS", "w/o HM"]))
    if paper:
        out += paper_counterparts_markdown(grid, paper)
    return "\n".join(out) + "\n"


def paired_markdown(grid, rows, others, reference="SharpReCL", title=None):
    out = [title or f"## Paired seeds: {reference} minus each method (macro-F1, points of %)", "",
           "Same seed = same long-tailed subset, validation split and initialisation, so the "
           "difference per seed removes the subset-to-subset variation that the sd columns above "
           "include. `mean ± sd` of the per-seed differences over the seeds both have; reading: "
           "'ahead'/'behind' only if |mean| > sd, else 'within seed noise'. |mean| > sd is a low bar "
           "(with n = 3 it is a paired t of 1.7, two-sided p ≈ 0.22); the p column is the paired "
           "t-test's.", ""]
    any_row = False
    for row in rows:
        ref = grid[row].get(reference)
        if not ref:
            continue
        body = []
        for m in others:
            if not grid[row].get(m) or m == reference:
                continue
            pair = paired(ref, grid[row][m])
            body.append([m, pair["n"], fmt_diff(pair), ", ".join(f"{d:+.1f}" for d in pair["diffs"]) or "–",
                         fmt_num(paired_t_p(pair), 2), reading(pair, reference)])
        if body:
            any_row = True
            out += [f"### {row_label(row)}", "",
                    md_table(["method", "n", f"{reference} − method", "per seed", "p (paired t)", "reading"],
                             body), ""]
    if not any_row:
        out += [f"No row has {reference} and another method yet.", ""]
    return out


def paper_counterparts_markdown(grid, paper):
    pairs = paper.get("our_counterparts", {})
    llms = set(paper.get("llm_columns", []))
    header = ["paper cell"] + [f"{theirs} (≈ our {ours})" if ours != "SharpReCL" else "Ours = SharpReCL"
                               for ours, theirs in pairs.items()]
    header += ["best non-LLM baseline", "best baseline (any)", "in our runs"]
    body = []
    for prow in paper["rows"]:
        cells = [paper_row_label(prow)] + [fmt_paper(prow["cells"].get(t)) for t in pairs.values()]
        small, anyb = best_baseline(prow, exclude=llms), best_baseline(prow)
        cells += [f"{small[0]}: {fmt_paper(small[1])}" if small else "–",
                  f"{anyb[0]}: {fmt_paper(anyb[1])}" if anyb else "–",
                  "yes" if (prow["dataset"], prow["imbalance_ratio"]) in grid else "no"]
        body.append(cells)
    return [f"## The paper's macro-F1 (%), {PAPER_TAG}", "",
            "From `benchmarks/paper_table2.json` (Table 2 of arXiv 2405.11524; 10 runs per cell, "
            "BERT-base-uncased, batch 128, GPU). Our CE / Focal / Dice / SCLCE correspond to their "
            "BERT / BERT+Focal / BERT+Dice / SCLCE columns. 'org' for TREC and CR is the paper's "
            "'org*'. Cells the extracted text did not give reliably are '–'; see the json's notes.", "",
            md_table(header, body), ""]


# --------------------------------------------------------------------------- Table 4


def table4_markdown(grid, paper=None):
    rows = [r for r in rows_of(grid) if any(grid[r].get(m) for m in ABLATIONS)]
    methods = list(ABLATIONS)
    labels = {"SCLCE (w/o SSHM)": "w/o SSHM (SCLCE)", "LA-CE (w/o CL)": "w/o CL (LA-CE)",
              "SharpReCL (WordNet view)": "+ WordNet view"}
    out = ["# Table 4: ablations", "",
           "SharpReCL with one part removed or changed: + WordNet view = the paper's second view "
           "(WordNet synonym substitution) instead of our default dropout view, w/o SS = no simple sampling, w/o HM = no hard mixup, "
           "w/o δ_CLS = plain cross-entropy in the classification branch (the paper's Table 7), "
           "w/o SSHM = neither SS nor HM (SupCon + cross-entropy, i.e. SCLCE), w/o CL = no contrastive branch "
           "(logit-adjusted cross-entropy only). Cells: mean ± sd (n seeds) in %, **bold** = best of "
           "the row. The benchmark runs + WordNet view, w/o SS, w/o HM and w/o δ_CLS on seed 0 only.", ""]
    if not rows:
        return "\n".join(out + ["No ablation runs yet."]) + "\n"
    for metric, title, pmetric in (("macro_f1", "Macro-F1 (%)", 1), ("accuracy", "Accuracy (%)", 0)):
        table = score_table(grid, rows, methods, metric)
        table = table.replace("| dataset / ir | " + " | ".join(methods),
                              "| dataset / ir | " + " | ".join(labels.get(m, m) for m in methods), 1)
        out += [f"## {title}", "", table, ""]
    out += paired_markdown(grid, rows, methods[1:], title="## Paired seeds: SharpReCL minus each ablation "
                           "(macro-F1, points of %)")
    if paper and paper.get("table4"):
        body = []
        for prow in paper["table4"]["rows"]:
            row = (prow["dataset"], prow["imbalance_ratio"])
            body.append([row_label(row)] + [
                f"{prow['cells'][ABLATIONS[m]][1]:.2f} / {prow['cells'][ABLATIONS[m]][0]:.2f}"
                if ABLATIONS[m] in prow["cells"] else "–" for m in methods]
                + ["yes" if row in grid else "no"])
        out += [f"## The paper's Table 4, {PAPER_TAG}", "",
                "Macro-F1 / accuracy (%), no sd printed; TREC and CR at ir=50, R52 and Ohsumed "
                "original. From `benchmarks/paper_table2.json` (`table4`).", "",
                md_table(["dataset / ir"] + [labels.get(m, m) for m in methods] + ["in our runs"], body), ""]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- CALoRA


def rarest_classes(runs, k=N_RAREST):
    """The ``k`` classes with the fewest training examples (mean count over seeds), rarest first."""
    counts = defaultdict(list)
    for rec in runs.values():
        for label, n in rec["train_class_counts"].items():
            counts[label].append(n)
    mean = {label: float(np.mean(v)) for label, v in counts.items()}
    return sorted(mean, key=lambda c: (mean[c], c))[:k], mean


def mean_field(runs, *path):
    values = []
    for rec in runs.values():
        v = rec
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        if v is not None:
            values.append(float(v))
    return float(np.mean(values)) if values else math.nan


def calora_markdown(grid):
    out = ["# CALoRA: class-aware LoRA experts on a fitted model", "",
           "`CALoRA on X` = stage 2 (rank-8 class-aware LoRA experts, top-2 routing) trained on top of "
           "the fitted X of the same cell and seed; differences are CALoRA − X on paired seeds, in "
           "points of %, with the same reading as Table 2 (beyond seed noise only if |mean| > sd).", ""]
    any_pair = False
    for row in rows_of(grid):
        for cal, base in CALORA_BASES.items():
            runs_c, runs_b = grid[row].get(cal), grid[row].get(base)
            if not runs_c or not runs_b:
                continue
            any_pair = True
            seeds = sorted(set(runs_c) & set(runs_b))
            pc = {s: runs_c[s] for s in seeds}
            pb = {s: runs_b[s] for s in seeds}
            pair = paired(pc, pb)
            out += [f"## {row_label(row)}: {cal} vs {base}", "",
                    md_table(["metric", base, cal, "CALoRA − base", "per seed", "reading"],
                             [["macro-F1", fmt_cell(*summarize(scores(pb))), fmt_cell(*summarize(scores(pc))),
                               fmt_diff(pair), ", ".join(f"{d:+.1f}" for d in pair["diffs"]),
                               reading(pair, "CALoRA")],
                              ["accuracy", fmt_cell(*summarize(scores(pb, "accuracy"))),
                               fmt_cell(*summarize(scores(pc, "accuracy"))),
                               fmt_diff(paired(pc, pb, "accuracy")), "", ""]]), ""]
            rare, counts = rarest_classes(pb)
            body = []
            for label in rare:
                fb = [100 * pb[s]["per_class"][label]["f1"] for s in seeds]
                fc = [100 * pc[s]["per_class"][label]["f1"] for s in seeds]
                d = summarize(np.subtract(fc, fb))
                p = {"n": d[2], "mean": d[0], "sd": d[1]}
                body.append([label, f"{counts[label]:.0f}", pb[seeds[0]]["per_class"][label]["test_support"],
                             fmt_cell(*summarize(fb)), fmt_cell(*summarize(fc)), fmt_diff(p), reading(p, "CALoRA")])
            out += [f"Per-class F1 (%) on the {len(rare)} rarest training classes (paired seeds: "
                    f"{', '.join(map(str, seeds))}):", "",
                    md_table(["class", "train n", "test n", base, cal, "CALoRA − base", "reading"], body), ""]
            params = sorted({int(r["calora"]["n_trainable_parameters"]) for r in pc.values() if "calora" in r})
            ranks = sorted({(r["calora"].get("rank"), r["calora"].get("top_k")) for r in pc.values() if "calora" in r})
            base_spe, cal_spe = mean_field(pb, "seconds_per_epoch"), mean_field(pc, "calora", "seconds_per_epoch")
            out += ["Cost (mean over the paired seeds):", "",
                    md_table(["", base, f"{cal} (stage 2)"],
                             [["seconds per epoch", fmt_num(base_spe), fmt_num(cal_spe)],
                              ["fit seconds", fmt_num(mean_field(pb, "fit_seconds")),
                               fmt_num(mean_field(pc, "fit_seconds")) + " (on top of the base's)"],
                              ["epochs", fmt_num(mean_field(pb, "epochs")), "–"],
                              ["trainable parameters added", "–", ", ".join(f"{p:,}" for p in params) or "–"],
                              ["rank / top-k", "–", ", ".join(f"{r} / {k}" for r, k in ranks) or "–"]]), ""]
    if not any_pair:
        out += ["No CALoRA run with its base yet."]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def method_styles(methods):
    """A stable colour and marker per method: ours in strong colours, classic peers in muted ones."""
    import matplotlib

    strong = matplotlib.colormaps["tab10"].colors
    muted = ["#7f7f7f", "#b5a27a", "#8fa3bf", "#c49aa8", "#7fa88f"]
    markers = "osD^vP*Xh<>p"
    styles, i, j = {}, 0, 0
    for m in methods:
        if m in CLASSIC:
            styles[m] = {"color": muted[j % len(muted)], "marker": "x", "linestyle": "--", "classic": True}
            j += 1
        else:
            styles[m] = {"color": strong[i % len(strong)], "marker": markers[i % len(markers)],
                         "linestyle": "-", "classic": False}
            i += 1
    return styles


def plot_f1_vs_ir(grid, path):
    """Macro-F1 against the imbalance ratio, one panel per dataset, error bars = sd over seeds."""
    plt = _pyplot()
    rows = rows_of(grid)
    datasets = sorted({d for d, _ in rows}, key=lambda d: row_sort_key((d, None)))
    ratios = sorted({r for _, r in rows}, key=lambda r: (r is not None, r or 0))  # org, 10, 20, 50
    methods = present_methods(grid, rows, TABLE2_METHODS) + sorted(
        {m for r in rows for m in grid[r]} - set(TABLE2_METHODS) - set(ABLATIONS))
    styles = method_styles(methods)
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(1.2 + 4.2 * max(1, len(datasets)), 5.6),
                             squeeze=False, sharey=False)
    width = 0.6
    offsets = {m: (i - (len(methods) - 1) / 2) * width / max(1, len(methods)) for i, m in enumerate(methods)}
    for ax, dataset in zip(axes[0], datasets):
        for m in methods:
            xs, ys, es, ns = [], [], [], []
            for k, r in enumerate(ratios):
                runs = grid.get((dataset, r), {}).get(m)
                if runs:
                    mean, sd, n = summarize(scores(runs))
                    xs.append(k + offsets[m]), ys.append(mean), es.append(0 if n < 2 else sd), ns.append(n)
            if not xs:
                continue
            st = styles[m]
            ax.plot(xs, ys, linestyle=st["linestyle"], color=st["color"], linewidth=1 if st["classic"] else 1.6,
                    alpha=0.8)
            ax.errorbar(xs, ys, yerr=es, fmt="none", ecolor=st["color"], elinewidth=1.2, capsize=3)
            for x, y, n in zip(xs, ys, ns):
                ax.plot([x], [y], marker=st["marker"], color=st["color"], markersize=7, linestyle="none",
                        markerfacecolor=st["color"] if n > 1 or st["marker"] == "x" else "white")
        ax.set_xticks(range(len(ratios)))
        ax.set_xticklabels(["original" if r is None else f"ir = {r}" for r in ratios])
        ax.set_xlim(-0.6, len(ratios) - 0.4)
        ax.set_xlabel("imbalance ratio of the training split (→ more imbalanced)")
        ax.set_ylabel("test macro-F1 (%)")
        ax.set_title(DATASET_NAMES.get(dataset, dataset))
        ax.grid(axis="y", alpha=0.3)
        for k in range(1, len(ratios)):
            ax.axvline(k - 0.5, color="0.85", linewidth=0.8)
    handles = [plt.Line2D([], [], color=styles[m]["color"], marker=styles[m]["marker"],
                          linestyle=styles[m]["linestyle"], label=m) for m in methods]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False,
               title="method (error bar: sd over seeds;\nhollow marker: one seed)", fontsize=9, title_fontsize=9)
    fig.suptitle("Macro-F1 vs imbalance ratio (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_per_class(grid, row, path):
    """Per-class F1 (mean over seeds) against the training class size, head -> tail."""
    plt = _pyplot()
    methods_all = grid[row]
    main = [m for m in PER_CLASS_MAIN if methods_all.get(m)]
    classic = [m for m in CLASSIC if methods_all.get(m)]
    methods = main + classic
    runs_any = next(iter(methods_all.values()))
    every = [rec for runs in methods_all.values() for rec in runs.values()]
    _, counts = rarest_classes(dict(enumerate(every)), k=len(every[0]["train_class_counts"]))
    classes = sorted(counts, key=lambda c: (-counts[c], c))  # head -> tail
    styles = method_styles(methods)
    n = len(classes)
    many = n > 12
    fig, ax = plt.subplots(figsize=(min(18, 0.24 * n + 4), 7) if many else (max(7.5, 0.6 * n + 4), 5.2))
    ax2 = ax.twinx()
    ax2.bar(range(n), [counts[c] for c in classes], color="0.88", width=0.7, zorder=0)
    ax2.set_yscale("log")
    ax2.set_ylim(1, 1.5 * max(counts.values()))
    ax2.set_ylabel("training examples of the class (bars, log scale)", color="0.45")
    ax2.tick_params(axis="y", colors="0.45")
    ax.set_zorder(ax2.get_zorder() + 1)
    ax.patch.set_visible(False)
    for m in methods:
        runs = methods_all[m]
        ys = []
        for c in classes:
            f1s = [r["per_class"][c]["f1"] for r in runs.values() if c in r["per_class"]]
            ys.append(100 * float(np.mean(f1s)) if f1s else math.nan)
        st = styles[m]
        ax.plot(range(n), ys, color=st["color"], marker=st["marker"], linestyle=st["linestyle"],
                linewidth=1.0 if st["classic"] else 1.8, markersize=(3 if many else 4) if st["classic"] else
                (4 if many else 6),
                alpha=0.75 if st["classic"] else 1.0, label=f"{m} ({len(runs)} seed{'s' * (len(runs) > 1)})")
    labels = [f"{c} ({counts[c]:.0f})" for c in classes] if many else [f"{c}\n{counts[c]:.0f}" for c in classes]
    ax.set_xticks(range(n))
    ax.set_xticklabels(labels, rotation=90 if many else 0, fontsize=7 if many else 9)
    ax.set_xlabel("class and its training examples, head → tail")
    ax.set_ylabel("test F1 of the class (%), mean over seeds")
    ax.set_ylim(-2, 102)
    ax.set_xlim(-0.5, n - 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3 if many else -0.2), ncol=3, frameon=False,
              fontsize=9)
    ax.set_title(f"Per-class F1 vs training frequency: {row_label(row)} "
                 f"(n_train = {runs_any[next(iter(runs_any))]['n_train']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_runtime(grid, path):
    """Seconds per epoch (neural, incl. CALoRA's stage 2) and fit seconds per method, by row."""
    plt = _pyplot()
    rows = rows_of(grid)
    methods = present_methods(grid, rows, RUNTIME_ORDER)
    methods += sorted({m for r in rows for m in grid[r]} - set(methods))

    def per_epoch(rec):
        if "calora" in rec:
            return rec["calora"].get("seconds_per_epoch")
        return rec.get("seconds_per_epoch")

    epoch_methods = [m for m in methods if any(per_epoch(rec) is not None for r in rows
                                              for rec in grid[r].get(m, {}).values())]
    import matplotlib

    colors = matplotlib.colormaps["tab10"].colors
    panels = [("seconds per training epoch", epoch_methods, per_epoch, False)] if epoch_methods else []
    panels.append(("fit seconds (whole fit; CALoRA: stage 2 only), log scale", methods,
                   lambda rec: rec.get("fit_seconds"), True))
    height = max(3.8, 1.5 + len(methods) * (0.25 + 0.09 * len(rows)))
    fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), height), squeeze=False)
    bar = 0.8 / max(1, len(rows))
    ax_max = {title: max([getter(rec) or 0 for r in rows for runs in grid[r].values() for rec in runs.values()]
                         + [1e-9]) for title, _, getter, _ in panels}
    for ax, (title, ms, getter, log) in zip(axes[0], panels):
        for k, row in enumerate(rows):
            ys, means, sds = [], [], []
            for i, m in enumerate(ms):
                vals = [getter(rec) for rec in grid[row].get(m, {}).values()]
                vals = [v for v in vals if v is not None]
                if vals:
                    mean, sd, n = summarize(vals)
                    ys.append(i + (k - (len(rows) - 1) / 2) * bar), means.append(mean)
                    sds.append(0 if n < 2 else sd)
            ax.barh(ys, means, height=bar * 0.9, xerr=sds, color=colors[k % 10], label=row_label(row),
                    error_kw={"elinewidth": 0.8, "capsize": 2})
            for y, v, e in zip(ys, means, sds):
                end = v + e
                ax.text(end * 1.12 if log else end + 0.015 * ax_max[title], y,
                        f"{v:.0f}" if v >= 10 else f"{v:.1f}", va="center", fontsize=7)
        ends = [getter(rec) for r in rows for m in ms for rec in grid[r].get(m, {}).values()]
        ends = [v for v in ends if v is not None and v > 0] or [1.0]
        if log:
            ax.set_xscale("log")
            ax.set_xlim(10 ** math.floor(math.log10(min(ends) * 0.5)), max(ends) * 6)
        else:
            ax.set_xlim(0, max(ends) * 1.18)
        ax.set_yticks(range(len(ms)))
        ax.set_yticklabels(ms)
        ax.invert_yaxis()
        ax.set_xlabel("seconds (mean over seeds; bar = sd)")
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(4, len(rows)),
               frameon=False, fontsize=9, title="dataset / ratio")
    machines = sorted({rec.get("machine", "?") for r in rows for runs in grid[r].values() for rec in runs.values()})
    fig.suptitle(f"Run time per method ({', '.join(machines)})")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


# --------------------------------------------------------------------------- README


def _peer_setting(name, default="?"):
    """A keyword value of ``neural_params`` in peers.py, read from the source (no torch import)."""
    try:
        text = (HERE / "peers.py").read_text()
    except OSError:
        return default
    match = re.search(rf"def neural_params.*?\b{name}=([^,\n)]+)", text, re.S)
    return match.group(1).strip() if match else default


def fmt_duration(seconds):
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def readme_markdown(records, grid, out_dir):
    rows = rows_of(grid)
    out = ["# Benchmark results", "",
           "SharpReCL and its peers under the paper's Table 2 / Table 4 protocol (long-tailed "
           "training split, untouched test split, paired seeds), on a CPU budget. Everything here "
           "is generated by `python benchmarks/report.py` from the run records in `runs/`.", "",
           "## Tables and plots", "",
           "- [table2.md](table2.md): macro-F1 and accuracy per dataset × ratio and method, the "
           f"paper's numbers beside them (marked '{PAPER_TAG}'), paired seed differences vs SharpReCL",
           "- [table4.md](table4.md): ablations (w/o SS, w/o HM, w/o δ_CLS, w/o SSHM, w/o CL)",
           "- [calora.md](calora.md): CALoRA on X vs X (macro-F1, rarest classes, cost)",
           "- [calora_conll.md](calora_conll.md): CALoRA on CoNLL-2003 NER, 3 paired seeds "
           "(`python benchmarks/calora_conll.py`)",
           "- [speed.md](speed.md): criterion cost, inference, peak memory and scaling "
           "(`python benchmarks/speed.py`)",
           "- [macro_f1_vs_ir.png](macro_f1_vs_ir.png): macro-F1 vs imbalance ratio",
           "- [runtime.png](runtime.png): seconds per epoch and fit seconds per method"]
    for row in rows:
        name = per_class_name(row)
        if (Path(out_dir) / name).exists():
            out.append(f"- [{name}]({name}): per-class F1 vs training frequency, {row_label(row)}")
    out += ["", "## How to run", "", "```bash",
            ". .venv/bin/activate",
            "python benchmarks/run.py --profile quick --dry-run   # what is left to run",
            "python benchmarks/run.py --profile quick             # TREC and CR at ir=50, 3 seeds",
            "python benchmarks/run.py --profile full              # + ir=20/10, R52, Ohsumed",
            "python benchmarks/report.py                          # tables, plots, this page",
            "```", "",
            "A run writes `runs/<dataset>__ir<r>__<method>__seed<s>__<config hash>.json` as soon as it "
            "finishes; a rerun skips the records that exist, so a grid can be resumed or extended. "
            "Datasets are read from `$SHARPRECL_DATA` (default `../shared/datasets`).", "",
            "## Configuration (from the records)", ""]
    if not records:
        return "\n".join(out + ["No runs yet.", "", *reading_section(out_dir)]) + "\n"
    configs = sorted({json.dumps(r.get("config", {}), sort_keys=True) for r in records})
    max_epochs = "/".join(str(e) for e in sorted({json.loads(c).get("max_epochs") for c in configs}, key=str))
    machines = sorted({r.get("machine", "?") for r in records})
    by_dataset = defaultdict(set)
    for r in records:
        by_dataset[r["dataset"]].add(r.get("max_length"))
    neural = [r for r in records if "epochs" in r]
    seeds = defaultdict(set)
    for r in records:
        seeds[r["method"]].add(int(r["seed"]))
    seed_sets = defaultdict(list)
    for m, s in seeds.items():
        seed_sets[tuple(sorted(s))].append(m)
    out += [
        "- encoder: " + ", ".join(sorted({json.loads(c).get("encoder", "?") for c in configs})) +
        " (all neural methods and the frozen / SetFit peers)",
        "- max_length (tokens; 95th percentile of the training texts, capped at 128): " +
        ", ".join(f"{DATASET_NAMES.get(d, d)} {', '.join(str(v) for v in sorted(x for x in ls if x is not None))}"
                  for d, ls in sorted(by_dataset.items(), key=lambda kv: row_sort_key((kv[0], None)))),
        "- config records: " + "; ".join(f"`{c}`" for c in configs),
        f"- neural training: at most {max_epochs} epochs, batch "
        f"{_peer_setting('batch_size')}, early stopping after {_peer_setting('n_iter_no_change')} epochs without a "
        "better validation macro-F1 on a stratified 10% validation split of the training data (best epoch "
        "restored); the test split is used only for the final scores",
    ]
    if neural:
        epochs = [r["epochs"] for r in neural]
        best = [r["best_epoch"] for r in neural if "best_epoch" in r]
        out.append(f"- epochs run: {min(epochs)}–{max(epochs)} (mean {np.mean(epochs):.1f}) over {len(neural)} "
                   f"neural runs; best epoch mean {np.mean(best):.1f}" if best else "")
    out += ["- seeds: " + "; ".join(f"{', '.join(map(str, s))} for {', '.join(sorted(ms, key=method_sort_key))}"
                                   for s, ms in sorted(seed_sets.items(), key=lambda kv: (-len(kv[0]), kv[0]))),
            "- machine: " + ", ".join(machines),
            f"- {len(records)} run records, {len(rows)} dataset × ratio cells: " +
            ", ".join(f"{row_label(r)} ({sum(len(v) for v in grid[r].values())} runs)" for r in rows), ""]
    total = sum(r.get("fit_seconds", 0) + r.get("predict_seconds", 0) for r in records)
    body = []
    for row in rows:
        recs = [rec for runs in grid[row].values() for rec in runs.values()]
        body.append([row_label(row), len(recs),
                     fmt_duration(sum(r.get("fit_seconds", 0) + r.get("predict_seconds", 0) for r in recs))])
    body.append(["**total**", len(records), f"**{fmt_duration(total)}**"])
    out += ["## Run time", "",
            "Sum of fit + predict seconds of the records (model loading between runs and the "
            "tokenisation for `max_length` are not counted; CALoRA rows count stage 2 only, their base "
            "is the SharpReCL / CE run of the same cell).", "",
            md_table(["cell", "runs", "fit + predict"], body), ""]
    out += failures_section(out_dir, {Path(rec["_file"]).stem for rec in records})
    out += reading_section(out_dir)
    return "\n".join(line for line in out if line is not None) + "\n"


def failures_section(out_dir, done_keys):
    """Runs whose last attempt failed and that have no record (from ``failures.log``)."""
    log = Path(out_dir) / "failures.log"
    if not log.is_file():
        return []
    last = {}
    for line in log.read_text().splitlines():
        match = re.match(r"\S+ \S+ (\S+): (.*)", line)
        if match:
            last[match.group(1)] = match.group(2)
    failed = {key: why for key, why in last.items() if key not in done_keys}
    if not failed:
        return []
    return ["## Runs that failed", "",
            "From `failures.log` (the grid goes on past a failing peer; a rerun retries it). "
            "These cells are empty in the tables.", "",
            md_table(["run", "error"], [[f"`{k}`", why.replace("|", "\\|")] for k, why in sorted(failed.items())]),
            ""]


def reading_section(out_dir):
    """The hand-written reading of the results (``reading.md``), kept across regenerations."""
    hand_written = Path(out_dir) / "reading.md"
    if hand_written.is_file():
        return ["## Reading", "", hand_written.read_text().strip(), ""]
    return ["## Reading", "",
            "TODO(reading): write `reading.md` beside this file: what the tables say and what they do not.", ""]


# --------------------------------------------------------------------------- main


def per_class_name(row):
    return f"per_class_f1_vs_frequency_{row[0]}_ir{ratio_slug(row[1])}.png"


def generate(runs_dir=RESULTS / "runs", out_dir=RESULTS, paper_path=PAPER, plots=True):
    """Write every table, plot and the README; returns the written paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    records = load_runs(runs_dir)
    grid = index_runs(records)
    paper = load_paper(paper_path)
    written = []

    def write(name, text):
        path = out_dir / name
        path.write_text(text)
        written.append(path)

    write("table2.md", table2_markdown(grid, paper))
    write("table4.md", table4_markdown(grid, paper))
    write("calora.md", calora_markdown(grid))
    if plots and records:
        written.append(plot_f1_vs_ir(grid, out_dir / "macro_f1_vs_ir.png"))
        for row in rows_of(grid):
            written.append(plot_per_class(grid, row, out_dir / per_class_name(row)))
        written.append(plot_runtime(grid, out_dir / "runtime.png"))
    write("README.md", readme_markdown(records, grid, out_dir))
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=str(RESULTS / "runs"), help="folder of run records")
    parser.add_argument("--out", default=str(RESULTS), help="folder for the tables, plots and README")
    parser.add_argument("--paper", default=str(PAPER), help="the paper's numbers (json)")
    parser.add_argument("--no-plots", action="store_true")
    args = parser.parse_args(argv)
    for path in generate(args.runs, args.out, args.paper, plots=not args.no_plots):
        print(path)


if __name__ == "__main__":
    main()
